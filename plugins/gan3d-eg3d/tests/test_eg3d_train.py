"""EG3D's trainer without the official fixture: schedules, options, data checks, a few real training
steps on a tiny configuration, determinism, and snapshots that load with ``gan3d.load``."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from pydantic import ValidationError

import gan3d
from gan3d.train import Batch, DataInfo, Draws, Progress, ReplayDraws, ema_update, make_optimizer, run_phase
from gan3d_eg3d.train import PRESETS, DualDiscriminator, EG3DOptions, EG3DTrainer, check_data, trainer_entry
from gan3d_eg3d.train.trainer import blur, discriminator_kwargs

from eg3d_helpers import train_fixture_dir

# Small enough for a test: 64 px images, neural rendering 16, 16 px tri-planes, narrow networks.
TINY = dict(resolution=64, cbase=256, cmax=16, triplane_resolution=16, sr_channels=(8, 8),
            neural_rendering_resolution_initial=16, depth_resolution=4, depth_resolution_importance=4,
            d_mapping_layers=2)


def ffhq_labels(n: int = 8) -> torch.Tensor:
    """EG3D labels of FFHQ-like cameras (radius 2.7 around (0,0,0.2)) at a few yaws."""
    yaws = torch.linspace(-0.4, 0.4, n)
    cam = gan3d.Camera.orbit(yaw=yaws, pitch=torch.zeros(n), radius=2.7, focal=4.2647, look_at=(0.0, 0.0, 0.2))
    return cam.to_eg3d_label()


def data_info(resolution: int = 64, labels: torch.Tensor | None = None, name: str = "synth-test") -> DataInfo:
    labels = ffhq_labels() if labels is None else labels
    return DataInfo(resolution=resolution, num_images=len(labels), has_labels=True, labels=labels, name=name)


def tiny_trainer(**overrides) -> EG3DTrainer:
    torch.manual_seed(0)
    return EG3DTrainer(EG3DOptions(**{**TINY, **overrides}), data_info())


def train(trainer: EG3DTrainer, iterations: int, seed: int = 0, batch: int = 4):
    """``iterations`` iterations of the core step with seeded draws; returns (G_ema, logs per phase)."""
    draws = Draws(seed)
    torch.manual_seed(seed)
    real = Batch(image=torch.rand(batch, 3, 64, 64) * 2 - 1, label=trainer.labels[:batch].clone())
    opts = {k: make_optimizer(trainer.networks[k], s) for k, s in trainer.optimizers().items()}
    G_ema = copy.deepcopy(trainer.G).eval()
    logs = {}
    for i in range(iterations):
        progress = Progress(cur_nimg=i * batch, batch_idx=i, batch_size=batch)
        inputs = trainer.prepare(real, draws, progress)
        for phase in trainer.phases():
            if i % phase.interval == 0:
                logs[phase.name] = run_phase(trainer, phase, opts[phase.network], real, inputs, draws, progress)
        ema_update(G_ema, trainer.G, trainer.ema_beta(progress))
    return G_ema, logs


# ---------------------------------------------------------------------------------------------- schedules
def test_schedule_at_the_fixture_point_equals_the_official_values():
    cfg = json.loads((train_fixture_dir() / "config.json").read_text())
    lk = cfg["loss_kwargs"]
    keys = ("neural_rendering_resolution_initial", "neural_rendering_resolution_final",
            "neural_rendering_resolution_fade_kimg", "gpc_reg_prob", "gpc_reg_fade_kimg", "blur_init_sigma")
    opts = EG3DOptions(resolution=128, cbase=512, cmax=16, **{k: lk[k] for k in keys})
    labels = ffhq_labels()
    trainer = EG3DTrainer(opts, data_info(128, labels))
    p = Progress(cur_nimg=cfg["cur_nimg"], batch_idx=0, batch_size=cfg["batch_size"])
    s, derived = trainer.schedule(p), cfg["derived"]
    assert s["blur_sigma"] == pytest.approx(derived["blur_sigma"])
    assert s["swapping_prob"] == pytest.approx(derived["swapping_prob"])
    assert s["neural_rendering_resolution"] == derived["neural_rendering_resolution"]
    assert trainer.ema_beta(p) == pytest.approx(derived["ema_beta"], rel=1e-12)


def test_schedule_ends():
    trainer = tiny_trainer(neural_rendering_resolution_final=32, neural_rendering_resolution_fade_kimg=1,
                           gpc_reg_fade_kimg=2, gpc_reg_prob=0.8)
    start = trainer.schedule(Progress(0, 0, 32))
    assert start == {"blur_sigma": 10.0, "swapping_prob": 1.0, "neural_rendering_resolution": 16}
    assert trainer.ema_beta(Progress(0, 0, 32)) == 0.0  # ramp-up: G_ema starts as a copy of G
    end = trainer.schedule(Progress(10 ** 7, 0, 32))
    assert end == {"blur_sigma": 0.0, "swapping_prob": pytest.approx(0.8), "neural_rendering_resolution": 32}
    # 10 kimg half-life at batch 32 once the ramp-up is over
    assert trainer.ema_beta(Progress(10 ** 7, 0, 32)) == pytest.approx(0.5 ** (32 / 10000))
    # blur fades over blur_fade_kimg * batch / 32 kimg: half-way at 100 kimg for batch 32
    assert trainer.schedule(Progress(100_000, 0, 32))["blur_sigma"] == pytest.approx(5.0)
    no_gpc = tiny_trainer(gen_pose_cond=False)
    assert no_gpc.schedule(Progress(0, 0, 32))["swapping_prob"] == -1.0


def test_blur_kernel_is_eg3ds():
    x = torch.zeros(1, 1, 41, 41)
    x[0, 0, 20, 20] = 1
    y = blur(x, 2.0)  # radius floor(6) = 6, taps 2^-(x/2)^2
    taps = torch.tensor([2.0 ** -((i / 2) ** 2) for i in range(-6, 7)])
    taps = taps / taps.sum()
    assert torch.allclose(y[0, 0, 20, 14:27], taps * taps[6], atol=1e-7)
    assert float(y[0, 0, 20, 27:].abs().max()) == 0 and torch.equal(blur(x, 0.2), x)  # radius 0: identity


# ---------------------------------------------------------------------------------------------- networks
def test_discriminator_keys_equal_the_fixtures():
    official = torch.load(train_fixture_dir() / "weights.pt", weights_only=True)["D"]
    D = DualDiscriminator(**discriminator_kwargs(EG3DOptions(cbase=512, cmax=16), 128))
    assert list(D.state_dict()) == list(official)
    assert {k: tuple(v.shape) for k, v in D.state_dict().items()} == {k: tuple(v.shape) for k, v in official.items()}


def test_ffhq512_discriminator_has_the_official_size():
    D = DualDiscriminator(**discriminator_kwargs(EG3DOptions(), 512))
    sd = D.state_dict()
    assert len(sd) == 92 and len(list(D.parameters())) == 61
    assert sum(p.numel() for p in D.parameters()) == 31_359_744
    assert tuple(sd["b512.fromrgb.weight"].shape) == (64, 6, 1, 1)
    assert D.mapping.fc7.weight_gain == pytest.approx(0.01 / math.sqrt(512))  # lr multiplier 0.01


def test_freeze_d_turns_the_first_layers_into_buffers():
    D = DualDiscriminator(**discriminator_kwargs(EG3DOptions(cbase=256, cmax=16, freezed=2), 64))
    params = dict(D.named_parameters())
    assert "b64.fromrgb.weight" not in params and "b64.conv0.weight" not in params
    assert "b64.conv1.weight" in params and "b64.fromrgb.weight" in D.state_dict()


def test_disc_c_noise_draws_and_changes_the_camera():
    D = DualDiscriminator(**discriminator_kwargs(EG3DOptions(cbase=256, cmax=16, disc_c_noise=1.0), 64))
    img = {"image": torch.zeros(4, 3, 64, 64), "image_raw": torch.zeros(4, 3, 16, 16)}
    c = ffhq_labels(4)
    c0 = c.clone()
    D(img, c, draws=Draws(0))
    assert not torch.equal(c, c0)  # in place, as the official code
    with pytest.raises(ValueError, match="random draws"):
        D(img, c0.clone())


# ---------------------------------------------------------------------------------------------- options and data
def test_options_refuse_unknown_fields():
    with pytest.raises(ValidationError, match="gamma"):
        EG3DOptions(gamma=1.0)
    with pytest.raises(ValidationError, match="SuperresolutionHybrid9X") as e:
        EG3DOptions(sr_module="SuperresolutionHybrid9X", triplane_resolution=48)
    assert "power of two" in str(e.value)  # every problem named at once
    with pytest.raises(ValidationError, match="w_dim must be 512"):  # not a shape error at the first grid
        EG3DOptions(w_dim=32)


def test_batch_that_splits_minibatch_std_groups_badly_is_refused():
    trainer = tiny_trainer()
    real = Batch(image=torch.zeros(6, 3, 64, 64), label=trainer.labels[:6])
    with pytest.raises(gan3d.InputError, match="minibatch-stddev"):
        trainer.prepare(real, Draws(0), Progress(0, 0, 6))


def test_presets_are_valid_options():
    for name, preset in PRESETS.items():
        fields = {k: v for k, v in preset.items() if k not in ("batch", "kimg")}
        EG3DOptions(**fields)
    assert PRESETS["shapenet128"]["gen_pose_cond"] is False and PRESETS["ffhq512"]["r1_gamma"] == 1.0
    assert trainer_entry().method == "eg3d" and trainer_entry().presets is PRESETS


def test_data_without_camera_labels_is_refused_clearly():
    opts = EG3DOptions(**TINY)
    plain = DataInfo(resolution=64, num_images=10, has_labels=False)
    problems = check_data(opts, plain)
    assert len(problems) == 1 and "camera labels" in problems[0]
    with pytest.raises(gan3d.InputError, match="camera labels"):
        EG3DTrainer(opts, plain)
    wrong_size = check_data(opts, data_info(resolution=128))
    assert len(wrong_size) == 1 and "128 px" in wrong_size[0] and "64 px" in wrong_size[0]
    assert check_data(EG3DOptions(), data_info(resolution=96)) and not check_data(opts, data_info())


# ---------------------------------------------------------------------------------------------- training
def test_training_steps_are_finite_deterministic_and_move_the_weights():
    a = tiny_trainer()
    before = {k: {n: p.clone() for n, p in m.named_parameters()} for k, m in a.networks.items()}
    w_avg = a.G.backbone.mapping.w_avg.clone()
    ema, logs = train(a, 4)
    assert set(logs) == {"Gmain", "Greg", "Dmain", "Dreg"}
    # the loop merges an iteration's phase logs into one dict: no phase may overwrite another's values
    keys = [set(phase_logs) for phase_logs in logs.values()]
    assert all(not k & other for i, k in enumerate(keys) for other in keys[i + 1:])
    assert {"Loss/Gmain/scores/fake", "Loss/Dmain/scores/fake", "Loss/Dreg/scores/real"} <= set().union(*keys)
    for phase_logs in logs.values():
        assert all(torch.isfinite(v).all() for v in phase_logs.values())
    for key, module in a.networks.items():
        moved = [n for n, p in module.named_parameters() if not torch.equal(p, before[key][n])]
        assert len(moved) > 0.8 * len(before[key]), key
    assert not torch.equal(a.G.backbone.mapping.w_avg, w_avg)  # Dmain's update_emas
    b = tiny_trainer()
    ema_b, _ = train(b, 4)
    for (n, p), q in zip(a.G.named_parameters(), b.G.parameters()):
        assert torch.equal(p, q), n
    for p, q in zip(ema.parameters(), ema_b.parameters()):
        assert torch.equal(p, q)


def test_image_raw_with_autograd_equals_inference_when_the_sr_does_not_resize():
    """At the SR's own input size its first block adds its ToRGB into image_raw (official aliasing);
    with autograd the sum is made out of place, the same values, and backward works."""
    trainer = tiny_trainer(neural_rendering_resolution_initial=32)  # the 64 px SR's input size
    G = trainer.G
    z, c = torch.randn(2, 512), trainer.labels[:2]
    ws = G.mapping(z, c)
    G.deterministic = True
    with torch.no_grad():
        ref = G.synthesize(ws, c, noise_mode="const")
    G.requires_grad_(True)
    out = G.synthesize(ws, c, noise_mode="const")
    assert torch.allclose(out.image_raw, ref.image_raw, atol=1e-5)
    assert not torch.allclose(out.image_raw, out.extras["image_raw_rendered"], atol=1e-3)
    (out.image.mean() + out.image_raw.mean()).backward()
    assert G.superresolution.block0.torgb.weight.grad is not None


def test_export_makes_a_snapshot_that_gan3d_loads(tmp_path):
    trainer = tiny_trainer(neural_rendering_resolution_final=32, neural_rendering_resolution_fade_kimg=1)
    ema, _ = train(trainer, 1)
    trainer.run_name = "synth-run"
    G = trainer.export(ema)
    assert G.card.name == "eg3d/synth-run" and G.card.dataset == "synth-test" and G.card.resolution == 64
    G.save_pretrained(tmp_path / "snap")
    loaded = gan3d.load(tmp_path / "snap")
    assert loaded.card.name == "eg3d/synth-run" and loaded.neural_rendering_resolution == G.neural_rendering_resolution
    for (n, p), q in zip(G.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(p, q), n
    loaded.set_deterministic(True)
    with torch.no_grad():
        out = loaded(torch.randn(1, 512))
    assert out.image.shape == (1, 3, 64, 64) and torch.isfinite(out.image).all()


def test_style_mixing_takes_the_second_latent_from_the_drawn_cutoff():
    trainer = tiny_trainer(style_mixing_prob=1.0)
    z, c = torch.randn(4, 512), trainer.labels[:4]
    values = {"t/mix_cutoff": torch.tensor(4), "t/mix_u": torch.tensor(0.5), "t/mix_z": torch.randn(4, 512)}
    ws = trainer.G.mapping(z, c)
    mixed = trainer._mix(ws, z, c, ReplayDraws(values), "t")  # cutoff = 4 + 1
    second = trainer.G.mapping(values["t/mix_z"], c)
    assert torch.equal(mixed[:, :5], ws[:, :5]) and torch.equal(mixed[:, 5:], second[:, 5:])
    values["t/mix_u"] = torch.tensor(1.0)  # not below the probability: no mixing
    assert torch.equal(trainer._mix(ws, z, c, ReplayDraws(values), "t"), ws)


# ---------------------------------------------------------------------------------------------- kill -9 and resume
def _run_config(out, kimg: float) -> dict:
    """A few iterations of the synth64 preset on 16 synthetic heads (mirrored), narrowed for a test, with every
    schedule (blur, swap, neural rendering resolution, EMA ramp-up) still moving at the kill."""
    options = {**{k: v for k, v in TINY.items() if k != "resolution"}, "sr_channels": [8, 8],
               "neural_rendering_resolution_final": 32, "neural_rendering_resolution_fade_kimg": 0.04,
               "blur_fade_kimg": 0.2, "gpc_reg_fade_kimg": 0.04, "ema_kimg": 0.004, "ema_rampup": 0.5}
    return {"method": "eg3d", "preset": "synth64", "data": "synth:num=16,res=64,seed=0", "xflip": True,
            "batch": 4, "kimg": kimg, "tick_kimg": 0.008, "snap_ticks": 2, "seed": 3, "out": str(out),
            "device": "cpu", "deterministic": True, "num_workers": 0, "grid_seeds": [0], "grid_yaws": [0.0],
            "options": options}


def test_kill_9_and_resume_equals_an_uninterrupted_run(tmp_path, one_thread):
    from gan3d.cli.main import main
    from gan3d.testing import train_until_first_snapshot_then_kill
    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train as train_run
    from gan3d.train.snapshot import latest_snapshot, read_state

    cfg = _run_config(tmp_path / "killed", kimg=0.048)  # 12 iterations, snapshots after 4, 8 and 12
    path = tmp_path / "train.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    run = tmp_path / "killed" / "00000-eg3d-synth64"
    assert train_until_first_snapshot_then_kill(path, run) < 0.048

    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    straight = train_run(resolve_config({**cfg, "out": str(tmp_path / "straight")}), progress=False)
    a, b = read_state(latest_snapshot(run)), read_state(latest_snapshot(straight))
    assert a["counters"] == b["counters"] and a["counters"]["cur_nimg"] == 48
    for net in ("G", "D"):
        for k, v in b["networks"][net].items():
            assert torch.equal(a["networks"][net][k], v), (net, k)
        for i, s in b["optimizers"][net]["state"].items():
            assert torch.equal(a["optimizers"][net]["state"][i]["exp_avg_sq"], s["exp_avg_sq"]), (net, i)
    for k, v in b["ema"].items():
        assert torch.equal(a["ema"][k], v), ("ema", k)
    assert torch.equal(a["draws"]["generator"], b["draws"]["generator"])
    assert a["sampler"] == b["sampler"]
    # the exported generator is the EMA network at the last neural rendering resolution
    G = gan3d.load(latest_snapshot(straight) / "generator")
    assert G.neural_rendering_resolution == 32
    assert all(torch.equal(G.state_dict()[k], v) for k, v in b["ema"].items())
