"""Loading the authors' checkpoints and gan3d's safe form; config.py read without running it; errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

import gan3d
from liftedgan_testutils import OFFICIAL_CONFIG, write_official_folder
from gan3d.errors import CheckpointError, UnsafeCheckpointError
from gan3d_liftedgan.cards import AFHQ_CAT, CARDS, FFHQ
from gan3d_liftedgan.checkpoints import load_official, read_config_py


class Payload:
    """Stands for any class a malicious pickle could name."""


def test_config_py_is_read_as_literals(tmp_path):
    p = tmp_path / "config.py"
    p.write_text(OFFICIAL_CONFIG)
    cfg = read_config_py(p)
    assert cfg["generator_path"] == "./pretrained/stylegan2-ffhq-cropped-300000.pt"
    assert cfg["learning_rate"] == 1e-4 and cfg["restore_model"] is None and cfg["vgg_indices"] == [1, 2, 3]
    assert cfg["renderer_params"]["min_depth"] == 0.9  # a name assigned earlier in the file
    assert cfg["blur_params"] == {"size": 10, "sigma": 4}


@pytest.mark.parametrize("code,what", [
    ("import os\n", "Import"),
    ("x = __import__('os').system('echo hacked')\n", "Call"),
    ("x = 1 + 2\n", "BinOp"),
    ("x = undefined_name\n", "Name"),
    ("def f():\n    pass\n", "FunctionDef"),
])
def test_config_py_with_code_is_refused(tmp_path, code, what):
    p = tmp_path / "config.py"
    p.write_text("name = 'ok'\n" + code)
    with pytest.raises(CheckpointError, match=rf"config.py line 2: .*{what}.*not a literal"):
        read_config_py(p)


def test_official_folder_loads_and_matches(tmp_path, weights, io, model):
    run = write_official_folder(tmp_path, weights)
    G = load_official(run, w_mu=io["mapping"]["w_mu"])
    assert G.card.name == "liftedgan/ffhq256" and G.card.latent.dim == 64
    assert G.config.channels[256] == 4 and G.config.depth_nf == 4 and G.config.mlp_hidden == 64
    sd, ref = G.state_dict(), model.state_dict()
    assert sd.keys() == ref.keys() and all(torch.equal(sd[k], ref[k]) for k in sd)
    # through gan3d.load and the hook: the checkpoint file or its folder; w_mu from a fixed seed, once
    G2 = gan3d.load(run / "checkpoint_010.pth")
    G3 = gan3d.load(run)
    assert torch.equal(G2.w_mu, G3.w_mu) and G2.w_mu.abs().sum() > 0
    close_mu = (G2.w_mu - io["mapping"]["w_mu"]).abs().max()
    assert close_mu < 0.05  # 50k samples: the mean is close to the fixture's (another seed)


def test_checkpoint_without_its_stylegan2(tmp_path, weights):
    run = write_official_folder(tmp_path, weights)
    (tmp_path / "pretrained" / "stylegan2-ffhq-cropped-300000.pt").unlink()
    with pytest.raises(CheckpointError, match=r"needs its StyleGAN2 generator.*generator_path = "
                                              r"'./pretrained/stylegan2-ffhq-cropped-300000.pt'"):
        gan3d.load(run)


def test_config_py_with_code_blocks_loading(tmp_path, weights):
    run = write_official_folder(tmp_path, weights, OFFICIAL_CONFIG + "import os\nos.system('touch /tmp/x')\n")
    with pytest.raises(CheckpointError, match=r"line \d+: the statement \(Import\)"):
        gan3d.load(run)


def test_out_of_range_config_values_name_the_file_and_every_entry(tmp_path, weights):
    text = (OFFICIAL_CONFIG.replace("truncation = 0.7", "truncation = 1.5")
            .replace("'sigma': 4", "'sigma': 0").replace("'fov': 10,", "'fov': 'wide',"))
    run = write_official_folder(tmp_path, weights, text)
    with pytest.raises(CheckpointError) as info:
        gan3d.load(run)
    msg = str(info.value)
    assert str(run / "config.py") in msg and "3 value(s)" in msg
    assert "truncation = 1.5: Input should be less than or equal to 1" in msg
    assert "blur_params['sigma'] = 0: Input should be greater than 0" in msg
    assert "renderer_params['fov'] = 'wide'" in msg and "Correct these entries of" in msg
    assert "validation error" not in msg and "errors.pydantic.dev" not in msg  # not pydantic's own text
    # a size the networks cannot produce (a check of the config class itself) gets the same treatment
    odd = OFFICIAL_CONFIG.replace("image_size = 256", "image_size = 100")
    run = write_official_folder(tmp_path / "b", weights, odd)
    with pytest.raises(CheckpointError, match=r"config.py: .*got image_size 100\nCorrect these entries"):
        gan3d.load(run)


def test_safe_form_with_bad_config_values(tmp_path, safe_folder):
    import json
    import shutil

    folder = Path(shutil.copytree(safe_folder, tmp_path / "edited"))
    meta = json.loads((folder / "config.json").read_text())
    meta["config"].update(truncation=0.0, depth_nf=2, colour="red")
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as info:
        gan3d.load(folder)
    msg = str(info.value)
    assert str(folder / "config.json") in msg and "3 value(s)" in msg
    assert "truncation = 0.0: Input should be greater than 0" in msg and "depth_nf = 2" in msg
    assert "colour = 'red': Extra inputs are not permitted" in msg and "Generator.save_pretrained" in msg


def test_mismatched_widths(tmp_path, weights):
    g = dict(weights["g_ema"])
    for k in [k for k in g if k.startswith("convs.10.") or k.startswith("convs.11.") or k.startswith("to_rgbs.5.")]:
        v = g[k]  # widen the 256-px layers from 4 to 8 channels: netD's inject conv no longer fits
        if k.endswith("conv.weight") and k.startswith("convs.10."):
            g[k] = torch.zeros(1, 8, v.shape[2], 3, 3)
        elif k.endswith("conv.weight"):
            g[k] = torch.zeros(1, v.shape[1], 8, *v.shape[3:]) if k.startswith("to_rgbs") else torch.zeros(1, 8, 8, 3, 3)
        elif k.endswith("modulation.weight") and not k.startswith("convs.10."):
            g[k] = torch.zeros(8, v.shape[1])
        elif k.endswith("modulation.bias") and not k.startswith("convs.10."):
            g[k] = torch.zeros(8)
        elif k.endswith("activate.bias"):
            g[k] = torch.zeros(8)
    run = write_official_folder(tmp_path, weights, g_ema=g)
    with pytest.raises(CheckpointError, match=r"mismatched widths.*netD injects 4 feature channels but the "
                                              r"StyleGAN2 has 8"):
        gan3d.load(run)


def test_wrong_style_width(tmp_path, weights):
    nets = dict(weights)
    sd = dict(nets["netT"])
    sd["mlp.0.weight"] = torch.zeros(16, 32)
    nets["netT"] = sd
    run = write_official_folder(tmp_path, nets)
    with pytest.raises(CheckpointError, match=r"netT input width 32 != the StyleGAN2 style width 64"):
        gan3d.load(run)


def test_missing_networks_and_unsafe_pickles(tmp_path, weights):
    run = write_official_folder(tmp_path, weights)
    torch.save({"netD": weights["netD"]}, run / "checkpoint_010.pth")
    with pytest.raises(CheckpointError, match=r"lacks the LiftedGAN networks netT, netSD, netSC"):
        gan3d.load(run)
    # a pickle that names an arbitrary global is refused before anything runs
    torch.save({"netD": Payload()}, run / "checkpoint_010.pth")
    with pytest.raises(UnsafeCheckpointError, match="weights-only"):
        gan3d.load(run)


def test_stylegan2_args_namespace_is_accepted(tmp_path, weights):
    """stylegan2-pytorch stores its argparse Namespace; it is inert data and allow-listed."""
    p = tmp_path / "g.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(1)}, "args": argparse.Namespace(a=1)}, p)
    from gan3d_liftedgan.checkpoints import read_stylegan2

    assert set(read_stylegan2(p)) == {"style.1.weight"}


def test_safe_form_round_trip(safe_folder, model, io):
    G = gan3d.load(safe_folder)
    assert torch.equal(G.w_mu, model.w_mu)
    assert torch.equal(gan3d.load(Path(safe_folder) / "weights.pt").w_mu, model.w_mu)  # the weights file works too
    z = io["mapping"]["z"][:1]
    a = G(z, truncation_psi=0.7)
    b = model(z, truncation_psi=0.7)
    assert torch.equal(a.image, b.image) and torch.equal(a.depth, b.depth)
    assert a.image.shape == (1, 3, 256, 256) and set(a.extras) >= {"canon_depth", "canon_albedo", "canon_shading",
                                                                    "canon_normal", "trans_map"}


def test_registered_cards_and_weights_add(tmp_path, weights, io):
    # the official cards, beside the model the plugin ships (trained on the synthetic world)
    assert gan3d.list_models("liftedgan/*") == ["liftedgan/afhqcat256", "liftedgan/ffhq256", "liftedgan/synth64"]
    for card in CARDS:
        assert card.resolution == 256 and card.citation.arxiv == "2011.13126" and "MIT" in card.license
        assert {w.filename for w in card.weights} >= {"checkpoint.pth", "config.py"}
        assert all("drive.google.com" in w.note for w in card.weights[:2])
    assert AFHQ_CAT.weights[0].filename == "stylegan2-cats-cropped-300000.pt"
    with pytest.raises(gan3d.WeightsNotFoundError, match="gan3d weights add"):
        gan3d.load("liftedgan/ffhq256")
    run = write_official_folder(tmp_path, weights)
    from gan3d.cli.main import main

    assert main(["weights", "add", str(tmp_path / "pretrained" / "stylegan2-ffhq-cropped-300000.pt"),
                 "--model", "liftedgan/ffhq256"]) == 0
    assert main(["weights", "add", str(run / "checkpoint_010.pth"), "--model", "liftedgan/ffhq256",
                 "--as", "checkpoint.pth"]) == 0
    # with all three files present and no sha256 pinned, `weights add` opens them with the plugin's reader
    # and compares them with the card's architecture: the fixture's reduced widths are refused
    assert main(["weights", "add", str(run / "config.py"), "--model", "liftedgan/ffhq256"]) == 2
    from gan3d import cache

    cache.add(run / "config.py", FFHQ, None)  # the Python API takes it as is
    G = gan3d.load("liftedgan/ffhq256")
    assert G.card.name == "liftedgan/ffhq256" and G.config.style_dim == 64
    assert torch.equal(G.netD.head[6].weight, weights["netD"]["head.6.weight"])
    assert FFHQ.pose_range.contains(math_rad(40), 0.0) and not FFHQ.pose_range.contains(math_rad(50), 0.0)


def math_rad(deg: float) -> float:
    import math

    return math.radians(deg)


def test_convert_official_to_safe_and_own_pose(tmp_path, weights, model, io):
    from gan3d.cli.main import main

    run = write_official_folder(tmp_path / "official", weights)
    out = tmp_path / "safe"
    assert main(["weights", "convert", str(run), str(out)]) == 0
    G = gan3d.load(out)
    assert G.w_mu.abs().sum() > 0  # the fixed-seed mean travels with the converted weights
    assert torch.equal(G.w_mu, gan3d.load(run).w_mu)
    # own-pose protocol: the camera is ignored, each sample keeps its estimated view
    w = model.mapping(io["mapping"]["z"][:1])
    model.set_own_pose(True)
    try:
        via_attr = model.synthesize(w, gan3d.Camera.orbit(0.5, 0.0))
    finally:
        model.set_own_pose(False)
    assert torch.equal(via_attr.extras["view"], model.netSD(w[:, 0])[2])


def test_registered_model_remembers_w_mu(tmp_path, weights):
    from gan3d import cache

    run = write_official_folder(tmp_path, weights)
    for src, as_ in ((tmp_path / "pretrained" / "stylegan2-ffhq-cropped-300000.pt", None),
                     (run / "checkpoint_010.pth", "checkpoint.pth"), (run / "config.py", None)):
        cache.add(src, FFHQ, as_)  # reduced widths: `weights add` would refuse them as another architecture
    G1 = gan3d.load("liftedgan/ffhq256")
    record = cache.weights_dir(FFHQ) / "w_mu.pt"
    assert record.is_file()
    saved = torch.load(record, weights_only=True)
    saved["w_mu"] = saved["w_mu"] + 1.0  # a remembered mean is used as is
    torch.save(saved, record)
    G2 = gan3d.load("liftedgan/ffhq256")
    assert torch.allclose(G2.w_mu, G1.w_mu + 1.0)


def test_random_weights_build_the_official_architecture():
    import gan3d

    G = gan3d.load("liftedgan/ffhq256", weights="random")
    assert G.weights_note == "random weights" and G.w_mu.abs().sum() > 0  # truncation mean computed
    out = G(gan3d.sample_latents(G, 0).z, gan3d.Camera.orbit(0.3, 0.0))
    assert out.image.shape == (1, 3, 256, 256) and out.image.isfinite().all()


def test_weights_add_refuses_a_broken_file_before_the_model_is_complete(tmp_path, weights, capsys):
    """LiftedGAN needs three files; one added alone is still checked for being an intact file of its kind
    (a torch zip's CRCs, a pickle's opcodes), without running anything from it."""
    from gan3d.cli.main import main

    junk = tmp_path / "checkpoint.pth"
    junk.write_bytes(b"hello")
    assert main(["weights", "add", str(junk), "--model", "liftedgan/ffhq256"]) == 2
    assert "not a readable checkpoint file" in capsys.readouterr().err
    run = write_official_folder(tmp_path / "ok", weights)
    good = (run / "checkpoint_010.pth").read_bytes()
    cut = tmp_path / "cut" / "checkpoint.pth"
    cut.parent.mkdir()
    cut.write_bytes(good[: len(good) // 2])
    assert main(["weights", "add", str(cut), "--model", "liftedgan/ffhq256"]) == 2
    assert main(["weights", "add", str(run / "checkpoint_010.pth"), "--model", "liftedgan/ffhq256",
                 "--as", "checkpoint.pth"]) == 0
    assert "intact torch zip archive" in capsys.readouterr().out
