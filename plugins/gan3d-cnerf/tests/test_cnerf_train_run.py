"""``gan3d train`` runs both CNeRF stages from configs on a tiny synthetic world (2 iterations each),
resumes, and refuses data or configs that cannot work before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan3d.cli.main import main
from test_cnerf_train_steps import TINY1, TINY2

BASE = {"batch": 2, "kimg": 0.004, "tick_kimg": 0.002, "snap_ticks": 2, "seed": 0, "device": "cpu",
        "num_workers": 0, "grid_seeds": [0], "grid_yaws": [0.0]}


@pytest.fixture(scope="module")
def synth_zip(tmp_path_factory) -> Path:
    from gan3d.data.synth import write_dataset

    return write_dataset(tmp_path_factory.mktemp("cnerf_synth") / "heads.zip", 4, 64, seed=0, progress=False)


def write_config(path: Path, cfg: dict) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines += [f"[{k}]"] + [f"{kk} = {json.dumps(vv)}" for kk, vv in v.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_dir_of(capsys) -> Path:
    return Path(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_dir"])


def test_both_stages_train_snapshot_and_resume(synth_zip, tmp_path, capsys):
    import gan3d

    cfg1 = write_config(tmp_path / "stage1.toml", {"method": "cnerf", "data": str(synth_zip),
                                                    "out": str(tmp_path / "runs"), **BASE, "options": TINY1})
    assert main(["train", str(cfg1), "--quiet"]) == 0
    run1 = run_dir_of(capsys)
    snaps = sorted((run1 / "snapshots").iterdir())
    assert snaps and (run1 / "grids").is_dir()
    G = gan3d.load(str(snaps[-1] / "generator"))
    out = G(gan3d.sample_latents(G, [0]).z, G.default_camera(0.0, 0.0))
    assert out.semantic.shape == (1, 9, 16, 16)
    losses = json.loads((run1 / "log.jsonl").read_text().splitlines()[-1])["losses"]
    # observability: each discriminator's loss, and every class's share of real and generated masks
    assert {"Loss/D/adv", "Loss/Dsem/adv", "Loss/Dsem/classify", "Loss/G/eikonal"} <= set(losses)
    # the health monitor watches both discriminators on keys the trainer really logs
    from gan3d_cnerf.train.stage1 import Stage1Trainer

    assert {k for pair in Stage1Trainer.health_pairs for k in pair} <= set(losses)
    assert sum(losses[f"Coverage/real/{c}"] for c in ("background", "face", "eyes", "mouth", "brows", "nose", "ears",
                                                      "hair", "cloth")) == pytest.approx(1.0, abs=1e-4)
    assert "Coverage/fake/hair" in losses
    # resume continues the run (the sphere pre-fit is not repeated: its state is in the snapshot)
    assert main(["train", "--resume", str(run1), "--kimg", "0.006", "--quiet"]) == 0
    assert len(sorted((run1 / "snapshots").iterdir())) > len(snaps)

    cfg2 = write_config(tmp_path / "stage2.toml", {
        "method": "cnerf-full", "data": str(synth_zip), "out": str(tmp_path / "runs"), **BASE,
        "options": {**TINY2, "stage1": str(snaps[-1])}})
    assert main(["train", str(cfg2), "--quiet"]) == 0
    run2 = run_dir_of(capsys)
    G2 = gan3d.load(str(sorted((run2 / "snapshots").iterdir())[-1] / "generator"))
    out = G2(gan3d.sample_latents(G2, [0]).z, G2.default_camera(0.0, 0.0))
    assert out.image.shape == (1, 3, 32, 32) and out.extras["semantic_high"].shape == (1, 9, 32, 32)
    records = [json.loads(line)["losses"] for line in (run2 / "log.jsonl").read_text().splitlines()]
    # R1 and path length run at iteration 0 (then every 16th / 4th): in the first tick's record
    assert {"Loss/D/adv", "Loss/D/r1", "Loss/G/adv", "Loss/G/path_length"} <= set(records[0])
    losses = records[-1]
    for kind in ("real", "fake", "fake_lowres"):  # the decoder's masks next to the renderer's and the truth
        assert sum(v for k, v in losses.items() if k.startswith(f"Coverage/{kind}/")) == pytest.approx(1.0, abs=1e-4)
    # the snapshot grid: image, semantic-mask and depth rows (one seed, one yaw, 32 px)
    grid = np.asarray(Image.open(sorted((run2 / "snapshots").iterdir())[-1] / "grid.png"))
    assert grid.shape == (3 * 32, 32, 3)


def test_configs_that_cannot_work_are_refused_before_any_work(synth_zip, tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(2):
        Image.fromarray(np.full((64, 64, 3), 40 * i, np.uint8)).save(plain / f"{i}.png")
    no_masks = write_config(tmp_path / "a.toml", {"method": "cnerf", "data": str(plain), "out": str(tmp_path / "r"),
                                                  **BASE, "options": TINY1})
    assert main(["train", str(no_masks), "--quiet"]) == 2
    assert "no masks" in capsys.readouterr().err
    classes = write_config(tmp_path / "b.toml", {"method": "cnerf", "data": str(synth_zip), "out": str(tmp_path / "r"),
                                                 **BASE, "options": {**TINY1, "num_classes": 7}})
    assert main(["train", str(classes), "--quiet"]) == 2
    assert "9 classes but the model has 7" in capsys.readouterr().err
    no_stage1 = write_config(tmp_path / "c.toml", {"method": "cnerf-full", "data": str(synth_zip),
                                                   "out": str(tmp_path / "r"), **BASE, "options": TINY2})
    assert main(["train", str(no_stage1), "--quiet"]) == 2
    assert "options.stage1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
