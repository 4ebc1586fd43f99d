"""EG3D with ADA (train.py's --aug ada / fixed): options, the joint augmentation of D's two images, and a
tiny training run whose augment probability moves, is logged, and survives kill -9 and resume."""

from __future__ import annotations

import json

import pytest
import torch
from pydantic import ValidationError

from gan3d.train import Batch, Draws, Progress, ReplayDraws, make_optimizer, run_phase
from gan3d.train.augment import OPS, AdaptiveAugment
from gan3d_eg3d.train import PRESETS, EG3DOptions, EG3DTrainer
from gan3d_eg3d.train.discriminator import resize_antialiased

from test_eg3d_train import TINY, data_info


def trainer(**overrides) -> EG3DTrainer:
    torch.manual_seed(0)
    return EG3DTrainer(EG3DOptions(**{**TINY, **overrides}), data_info())


def test_options_accept_the_three_modes_and_refuse_bad_values():
    assert trainer().augment_pipe is None
    fixed = trainer(aug="fixed", augment_p=0.3)
    assert float(fixed.augment_pipe.p) == pytest.approx(0.3) and fixed.ada is None
    ada = trainer(aug="ada", ada_target=0.7, ada_kimg=50)
    assert float(ada.augment_pipe.p) == 0 and isinstance(ada.ada, AdaptiveAugment)
    assert (ada.ada.target, ada.ada.kimg, ada.ada.interval) == (0.7, 50, 4)
    assert all(v == 1.0 for v in ada.augment_pipe.multipliers.values())  # the 'bgc' set
    with pytest.raises(ValidationError) as e:
        EG3DOptions(aug="sometimes", augment_p=1.5, ada_target=-0.1, ada_kimg=0)
    text = str(e.value)
    assert "'noaug', 'ada' or 'fixed'" in text  # every bad field named at once
    assert all(name in text for name in ("augment_p", "ada_target", "ada_kimg"))


def test_afhq512_preset_uses_ada_as_the_released_command():
    preset = PRESETS["afhq512"]
    opts = EG3DOptions(**{k: v for k, v in preset.items() if k not in ("batch", "kimg")})
    assert (opts.aug, opts.ada_target, opts.r1_gamma, opts.cfg) == ("ada", 0.6, 5.0, "afhq")
    assert opts.ada_kimg == 100  # train.py's ADA speed when fine-tuning (--resume), which this stage is


def test_run_d_augments_image_and_raw_image_with_one_transform():
    t = trainer(aug="fixed", augment_p=1.0)
    yy, xx = torch.meshgrid(torch.arange(64).float(), torch.arange(64).float(), indexing="ij")
    image = torch.exp(-((xx - 18) ** 2 + (yy - 30) ** 2) / 128).expand(2, 3, 64, 64) * 2 - 1
    raw = resize_antialiased(image, 16)
    values = {f"Dmain/augment/{op}/gate": torch.ones(shape)  # every gate off ...
              for op, shape in [(op, (2,)) for op in OPS if op not in ("rotate", "xint", "xfrac", "lumaflip",
                                                                       "saturation")]
              + [("rotate_pre", (2,)), ("rotate_post", (2,)), ("xint", (2, 1)), ("xfrac", (2, 1)),
                 ("lumaflip", (2, 1, 1)), ("saturation", (2, 1, 1))]}
    values["Dmain/augment/xflip/gate"] = torch.zeros(2)  # ... but the flip
    values["Dmain/augment/xflip/value"] = torch.tensor([0.9, 0.9])
    img = {"image": image, "image_raw": raw}
    t._augment(img, ReplayDraws(values, fallback=Draws(0)), "Dmain")
    assert img["image"].shape == (2, 3, 64, 64) and img["image_raw"].shape == (2, 3, 16, 16)
    assert (img["image"] - image.flip(-1)).abs().max() < 0.04
    # the raw image went up to 64 px, through the same flip, and back down
    expected_raw = resize_antialiased(resize_antialiased(raw, 64).flip(-1), 16)
    assert (img["image_raw"] - expected_raw).abs().max() < 0.04
    assert (img["image_raw"] - raw).abs().max() > 0.5


def test_ada_phases_observe_the_real_signs_and_gradients_pass_the_pipe():
    t = trainer(aug="fixed", augment_p=1.0)
    t.ada = AdaptiveAugment(t.augment_pipe, target=0.6, kimg=1)
    real = Batch(image=torch.rand(4, 3, 64, 64) * 2 - 1, label=t.labels[:4].clone())
    draws, progress = Draws(0), Progress(0, 0, 4)
    inputs = t.prepare(real, draws, progress)
    opts = {k: make_optimizer(t.networks[k], s) for k, s in t.optimizers().items()}
    phases = {p.name: p for p in t.phases()}
    logs = run_phase(t, phases["Gmain"], opts["G"], real, inputs, draws, progress)
    assert torch.isfinite(logs["Loss/Gmain"])
    grads = [p.grad for p in t.G.parameters() if p.grad is not None]  # G's gradient went through the pipe
    assert grads and any(g.abs().sum() > 0 for g in grads)
    run_phase(t, phases["Dmain"], opts["D"], real, inputs, draws, progress)
    run_phase(t, phases["Dreg"], opts["D"], real, inputs, draws, progress)
    assert t.ada.sums[1] == 8  # four real logits from Dmain and four from Dreg


def _ada_config(out, kimg: float) -> dict:
    options = {**{k: v for k, v in TINY.items() if k != "resolution"}, "sr_channels": [8, 8],
               "aug": "ada", "ada_target": 0.0, "ada_kimg": 0.064}  # p moves by 0.25 per adjustment
    return {"method": "eg3d", "preset": "synth64", "data": "synth:num=16,res=64,seed=0", "batch": 4,
            "kimg": kimg, "tick_kimg": 0.008, "snap_ticks": 1, "seed": 3, "out": str(out), "device": "cpu",
            "deterministic": True, "num_workers": 0, "grid_seeds": [0], "grid_yaws": [0.0], "options": options}


def test_ada_training_logs_p_and_kill_9_resume_keeps_it(tmp_path, one_thread):
    from gan3d.cli.main import main
    from gan3d.testing import train_until_first_snapshot_then_kill
    from gan3d.train.config import resolve_config
    from gan3d.train.logs import read_log
    from gan3d.train.loop import train as train_run
    from gan3d.train.snapshot import latest_snapshot, read_state

    cfg = _ada_config(tmp_path / "killed", kimg=0.024)  # 6 iterations; ADA adjusts after the 4th
    path = tmp_path / "train.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    run = tmp_path / "killed" / "00000-eg3d-synth64"
    # killed after 2 iterations: in the middle of ADA's first interval, its partial sums in the state
    assert train_until_first_snapshot_then_kill(path, run) < 0.024
    assert read_state(latest_snapshot(run))["trainer"]["ada"]["sums"][1] > 0

    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    straight = train_run(resolve_config({**cfg, "out": str(tmp_path / "straight")}), progress=False)
    a, b = read_state(latest_snapshot(run)), read_state(latest_snapshot(straight))
    assert a["counters"]["cur_nimg"] == b["counters"]["cur_nimg"] == 24
    assert a["trainer"] == b["trainer"]
    assert b["trainer"]["ada"]["p"] == pytest.approx(0.25)  # one step up: D's real signs were above target 0
    for net in ("G", "D"):
        for k, v in b["networks"][net].items():
            assert torch.equal(a["networks"][net][k], v), (net, k)
    records = read_log(straight)
    assert [r.losses["Progress/augment"] for r in records] == pytest.approx([0.0, 0.125, 0.25])
    assert "Progress/augment_real_signs" in records[1].losses
