"""Checkpoints: official-layout pickles (built here, not with NVIDIA's code), the safe form, errors."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

import gan3d
from eg3d_helpers import TINY_INIT_KWARGS, tiny_generator
from gan3d.errors import CheckpointError, InputError, UnsafeCheckpointError
from gan3d_eg3d.loading import load_pickle_file, load_safe_form
from gan3d_eg3d.pickle_io import load_eg3d_pickle, looks_like_eg3d_pickle, read_network_pickle
from official_layout import _Persistent, _module_state, fake_modules, write_snapshot


@pytest.fixture(scope="module")
def tiny():
    return tiny_generator()


@pytest.fixture(scope="module")
def snapshot(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("pkl") / "my-run-000400.pkl"
    write_snapshot(tiny, path)
    return path


def _render(G, seed=3):
    G.set_deterministic(True)
    with torch.no_grad():
        z = gan3d.sample_latents(G, [seed]).z
        return G(z, G.default_camera(0.2, -0.1), truncation_psi=0.7)


def test_official_layout_pickle_loads_strictly_and_renders_the_same(tiny, snapshot):
    assert looks_like_eg3d_pickle(snapshot)
    raw = read_network_pickle(snapshot)
    assert set(raw) == {"training_set_kwargs", "G", "D", "G_ema", "augment_pipe"}
    ck = load_eg3d_pickle(snapshot)
    ref = tiny.state_dict()
    assert list(ck.state_dict) == list(ref) and all(torch.equal(ck.state_dict[k], ref[k]) for k in ref)
    assert ck.neural_rendering_resolution == 16 and ck.sr_antialias is True
    assert ck.rendering_kwargs["depth_resolution"] == 12 and ck.init_kwargs["channel_max"] == 16
    assert isinstance(ck.init_kwargs["mapping_kwargs"], dict)
    G = gan3d.load(snapshot)  # through the plugin's checkpoint hook
    assert type(G).__name__ == "EG3DGenerator" and G.card.name == "eg3d/my-run-000400"
    assert G.neural_rendering_resolution == 16  # taken from the pickle, not the class default 64
    a, b = _render(tiny), _render(G)
    assert torch.equal(a.image, b.image) and torch.equal(a.depth, b.depth)


def test_rendering_kwargs_and_resolution_come_from_the_pickle(tiny, tmp_path):
    path = tmp_path / "edited.pkl"
    rk = dict(tiny.rendering_kwargs, depth_resolution=7, box_warp=1.2)
    write_snapshot(tiny, path, g_ema_extra={"rendering_kwargs": rk, "neural_rendering_resolution": 24})
    G = load_pickle_file(path)
    assert G.rendering_kwargs["depth_resolution"] == 7 and G.rendering_kwargs["box_warp"] == 1.2
    assert G.neural_rendering_resolution == 24
    with torch.no_grad():
        out = G(torch.zeros(1, 512))
    assert out.image_raw.shape == (1, 3, 24, 24) and out.image.shape == (1, 3, 128, 128)


def test_pickle_with_any_other_global_is_refused_and_nothing_runs(tiny, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pkl"
    write_snapshot(tiny, path, g_ema_extra={"_last_planes": Evil()})
    assert looks_like_eg3d_pickle(path)  # it looks like EG3D, so the hook tries it and must refuse
    with pytest.raises(UnsafeCheckpointError, match=r"(posix|os)\.system"):
        gan3d.load(path)
    assert not marker.exists()
    # a global that merely reads data (not on the allow-list) is refused too
    path2 = tmp_path / "counter.pkl"
    import collections

    write_snapshot(tiny, path2, top_extra={"stats": collections.Counter("ab")})
    with pytest.raises(UnsafeCheckpointError, match="collections.Counter"):
        load_eg3d_pickle(path2)


def test_module_source_text_in_the_pickle_is_never_executed(tiny, tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "src.pkl"
    write_snapshot(tiny, path, module_src=f"open({str(marker)!r}, 'w').write('ran')\nclass TriPlaneGenerator: pass\n")
    G = load_pickle_file(path)
    assert not marker.exists() and isinstance(G, gan3d.Generator)


def test_truncated_pickle_is_a_clear_error(snapshot, tmp_path):
    data = snapshot.read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        gan3d.load(cut)


def test_out_of_range_pickle_values_name_the_file_and_every_entry(tiny, tmp_path):
    path = tmp_path / "edited-run.pkl"
    rk = dict(tiny.rendering_kwargs, avg_camera_pivot=[0.0, 0.2], avg_camera_radius="far")
    write_snapshot(tiny, path, g_ema_extra={"rendering_kwargs": rk})
    with pytest.raises(CheckpointError) as info:
        gan3d.load(path)
    msg = str(info.value)
    assert str(path) in msg and "2 value(s)" in msg
    assert "rendering_kwargs['avg_camera_pivot'] = [0.0, 0.2]: too few items" in msg
    assert "rendering_kwargs['avg_camera_radius'] = 'far'" in msg and "export the snapshot again" in msg
    assert "errors.pydantic.dev" not in msg
    from gan3d_eg3d.cards import card_for_checkpoint

    with pytest.raises(CheckpointError, match=r"init_kwargs\['z_dim'\].*positive size"):
        card_for_checkpoint("x", dict(TINY_INIT_KWARGS, z_dim=0), {}, "pickle 'x.pkl'")


def test_checkpoint_of_another_method(tmp_path):
    # a StyleGAN2-style persistence pickle: G_ema is training.networks_stylegan2.Generator
    path = tmp_path / "stylegan2.pkl"
    with fake_modules():
        g = _Persistent({"type": "class", "version": 6, "module_src": "# networks_stylegan2.py\n",
                         "class_name": "Generator", "state": _module_state(torch.nn.Linear(2, 2), {}, {})})
        with open(path, "wb") as f:
            pickle.dump({"G": g, "D": None, "G_ema": g, "augment_pipe": None, "training_set_kwargs": None}, f)
    assert not looks_like_eg3d_pickle(path)
    with pytest.raises(CheckpointError, match="not EG3D's TriPlaneGenerator.*another method"):
        load_eg3d_pickle(path)
    with pytest.raises(CheckpointError, match="no installed plugin recognises"):
        gan3d.load(path)  # the EG3D hook passes it on instead of claiming it
    # a safe-form folder of another method is not claimed either
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"format": "gan3d", "method": "cnerf", "config": {}}))
    torch.save({}, other / "weights.pt")
    with pytest.raises(CheckpointError, match="another method"):
        load_safe_form(other)
    # and weights of another architecture fail the strict load with the offending keys named
    bad = tmp_path / "bad"
    tiny_generator().save_pretrained(bad)
    sd = torch.load(bad / "weights.pt", weights_only=True)
    sd.pop("decoder.net.0.bias")
    sd["decoder.extra"] = torch.zeros(1)
    torch.save(sd, bad / "weights.pt")
    with pytest.raises(CheckpointError, match="not the weights file its config.json was written with"):
        gan3d.load(bad)  # config.json records the sha256 of the weights.pt it was saved with
    meta = json.loads((bad / "config.json").read_text())
    del meta["weights_sha256"]  # as folders written before the hash was recorded
    (bad / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"1 missing.*decoder\.net\.0\.bias.*1 unexpected"):
        gan3d.load(bad)


def test_safe_form_roundtrip_and_weights_convert_cli(tiny, snapshot, tmp_path):
    from gan3d.cli.main import main

    out = tmp_path / "converted"
    assert main(["weights", "convert", str(snapshot), str(out)]) == 0
    meta = json.loads((out / "config.json").read_text())
    assert meta["method"] == "eg3d" and meta["config"]["neural_rendering_resolution"] == 16
    assert isinstance(torch.load(out / "weights.pt", weights_only=True), dict)
    ref = _render(tiny)
    for p in (out, out / "config.json", out / "weights.pt"):  # folder, config path or weights path
        G = gan3d.load(p)
        assert G.card.name == "eg3d/my-run-000400"
        assert torch.equal(_render(G).image, ref.image)


def test_registered_name_with_weights_override(snapshot, tmp_path):
    # a registered card's architecture is whatever the file says; the card supplies name/camera/licence
    G = gan3d.load("eg3d/shapenetcars128-64", weights=snapshot)
    assert G.card.name == "eg3d/shapenetcars128-64" and G.neural_rendering_resolution == 16
    with pytest.raises(gan3d.WeightsNotFoundError, match="shapenetcars128-64.pkl"):
        gan3d.load("eg3d/shapenetcars128-64")  # offline, nothing cached: names file, URL and command


def test_two_checkpoints_live_side_by_side(tiny, snapshot):
    A, B = gan3d.load(snapshot), tiny_generator(seed=1)
    z = torch.zeros(1, 512)
    with torch.no_grad():
        wa, wb = A.mapping(z), B.mapping(z)
        A.set_deterministic(True), B.set_deterministic(True)
        ia = A.synthesize(wa, A.default_camera()).image
        ib = B.synthesize(wb, B.default_camera()).image
        ia2 = A.synthesize(wa, A.default_camera()).image
    assert not torch.equal(ia, ib) and torch.equal(ia, ia2)


# ---------------------------------------------------------------------------------------------- input errors
def test_wrong_label_and_camera_shapes(tiny):
    z = torch.randn(2, 512)
    with pytest.raises(InputError, match=r"conditioning camera must have shape \[B, 25\], got \[2, 16\]"):
        tiny.mapping(z, torch.zeros(2, 16))
    with pytest.raises(InputError, match="3 labels for a batch of 2"):
        tiny.mapping(z, torch.zeros(3, 25))
    with pytest.raises(InputError, match=r"z must have shape \[B, 512\]"):
        tiny.mapping(torch.randn(2, 511))
    w = tiny.mapping(z)
    with pytest.raises(InputError, match=r"camera must have shape \[B, 25\]"):
        tiny.synthesize(w, torch.zeros(2, 4, 4))
    with pytest.raises(InputError, match="3 cameras for a batch of 2|cannot broadcast 3 cameras"):
        tiny.synthesize(w, gan3d.Camera.orbit([0.0, 0.1, 0.2]))
    with pytest.raises(InputError, match=r"w must have shape \[B, 14, 512\]"):
        tiny.synthesize(w[:, :5], tiny.default_camera())
    with pytest.raises(InputError, match="unknown EG3D synthesis option"):
        tiny.synthesize(w, tiny.default_camera(), noise="const")
    with pytest.raises(InputError, match="noise_mode"):
        tiny.synthesize(w, tiny.default_camera(), noise_mode="loud")


@pytest.mark.parametrize("psi,cutoff,match", [(5.0, None, "truncation_psi"), (float("nan"), None, "truncation_psi"),
                                              (0.7, 15, "truncation_cutoff"), (0.7, -1, "truncation_cutoff"),
                                              (0.7, 2.5, "truncation_cutoff")])
def test_truncation_out_of_range(tiny, psi, cutoff, match):
    with pytest.raises(InputError, match=match):
        tiny.mapping(torch.randn(1, 512), None, psi, cutoff)


def test_truncation_semantics(tiny):
    z = torch.randn(2, 512)
    with torch.no_grad():
        w1 = tiny.mapping(z)
        w0 = tiny.mapping(z, None, 0.0)
        w5 = tiny.mapping(z, None, 0.5, 4)
    avg = tiny.backbone.mapping.w_avg
    assert torch.allclose(w0, avg.expand_as(w0))
    assert torch.allclose(w5[:, :4], avg + 0.5 * (w1[:, :4] - avg), atol=1e-6) and torch.equal(w5[:, 4:], w1[:, 4:])


def test_conditioning_camera_matters_and_defaults_to_frontal(tiny):
    z = torch.randn(1, 512)
    with torch.no_grad():
        w_default = tiny.mapping(z)
        w_front = tiny.mapping(z, tiny.default_camera(0.0, 0.0))
        w_side = tiny.mapping(z, tiny.default_camera(0.5, 0.0))
    assert torch.equal(w_default, w_front) and not torch.allclose(w_front, w_side)


def test_unknown_superresolution_module_is_a_checkpoint_error():
    kw = json.loads(json.dumps(TINY_INIT_KWARGS))
    kw["rendering_kwargs"]["superresolution_module"] = "training.superresolution.SuperresolutionHybrid16X"
    from gan3d_eg3d.cards import card_for_checkpoint
    from gan3d_eg3d.generator import EG3DGenerator

    with pytest.raises(CheckpointError, match="unknown EG3D super-resolution module"):
        EG3DGenerator(card_for_checkpoint("x", kw, kw["rendering_kwargs"]), kw)


def test_cards():
    from gan3d.zoo import shipped_models

    names = [n for n in gan3d.list_models("eg3d/*") if n not in shipped_models()]  # the official releases
    assert names == sorted(["eg3d/ffhq512-64", "eg3d/ffhq512-128", "eg3d/ffhqrebalanced512-64",
                            "eg3d/ffhqrebalanced512-128", "eg3d/afhqcats512-128", "eg3d/shapenetcars128-64"])
    for n in names:
        card = gan3d.model_card(n)
        assert card.weights[0].urls[0].startswith("https://api.ngc.nvidia.com/") and card.weights[0].filename == n[5:] + ".pkl"
        assert "NVIDIA Source Code License" in card.license and "Chan" in card.citation.bibtex
    assert gan3d.model_card("eg3d/ffhq512-128").camera.look_at == (0.0, 0.0, 0.2)
    assert gan3d.model_card("eg3d/shapenetcars128-64").resolution == 128


def test_rendering_memory_is_bounded_by_chunks(tiny):
    """The field never sees more than ``chunk_points`` points at once, at any resolution."""
    seen = []
    decode = tiny.decoder.decode_points

    def spy(planes, points, box_warp):
        seen.append(points.shape[0] * points.shape[1])
        return decode(planes, points, box_warp)

    tiny.decoder.decode_points = spy
    tiny.chunk_points = 4096
    try:
        with torch.no_grad():
            out = tiny(torch.randn(2, 512), neural_rendering_resolution=48)
    finally:
        del tiny.decoder.decode_points
        tiny.chunk_points = 1 << 19
    assert out.image_raw.shape == (2, 3, 48, 48)
    assert max(seen) <= 4096 and sum(seen) == 2 * 48 * 48 * 24  # 12 coarse + 12 fine samples per ray


def test_gradients_flow_to_w(tiny):
    tiny.set_deterministic(True)
    w = tiny.mapping(torch.randn(1, 512)).detach().requires_grad_(True)
    out = tiny.synthesize(w, tiny.default_camera(0.2), neural_rendering_resolution=8)
    (out.image.mean() + out.depth.mean()).backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_random_weights_build_the_official_architecture_for_every_card():
    import gan3d
    from gan3d_eg3d.cards import CARDS

    for card in CARDS:
        G = gan3d.load(card.name, weights="random")
        assert G.weights_note == "random weights"
        assert G.neural_rendering_resolution in (64, 128)
        n = sum(p.numel() for p in G.parameters())
        assert n > 25_000_000, (card.name, n)  # full width, not the fixture's reduced backbone
    # the reference's count for the official ffhq512-128 G_ema: 177 entries, 31,493,185 numbers
    sd = gan3d.load("eg3d/ffhq512-128", weights="random").state_dict()
    assert len(sd) == 177 and sum(v.numel() for v in sd.values()) == 31_493_185
    shapenet = gan3d.load("eg3d/shapenetcars128-64", weights="random")
    assert "superresolution.resample_filter" in shapenet.state_dict()


def test_weights_add_without_a_pinned_sha256_opens_the_file_and_checks_its_architecture(snapshot, tmp_path, capsys):
    from gan3d.cli.main import main

    name = "eg3d/shapenetcars128-64"  # its card pins no sha256
    assert gan3d.model_card(name).weights[0].sha256 is None
    # a real EG3D snapshot, but of another architecture than the card's: refused, nothing cached
    assert main(["weights", "add", str(snapshot), "--model", name]) == 2
    err = capsys.readouterr().err
    assert f"holds another network than {name}'s" in err and "nothing was added" in err and "Traceback" not in err
    assert gan3d.cache.status(gan3d.model_card(name))[0].status == "missing"
    # the card's own architecture: accepted, saying what was checked
    good = tmp_path / "shapenetcars128-64.pkl"
    write_snapshot(gan3d.load(name, weights="random"), good)
    assert main(["weights", "add", str(good), "--model", name]) == 0
    out = capsys.readouterr().out
    assert "opened with the eg3d plugin's reader without running code: every tensor matches" in out and name in out
    assert gan3d.cache.status(gan3d.model_card(name))[0].status == "unverified"
