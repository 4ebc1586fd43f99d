"""The synthetic-world report (class shares, region-swap locality, grid) on a tiny random stage-1 model."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnerf_runs import make_stage1_run
from gan3d.errors import InputError
from gan3d_cnerf.analysis import (SynthReport, generated_class_shares, load_snapshot, run_camera_law, sample_cameras,
                                  synth_report, world_class_shares)
from gan3d_cnerf.classes import CLASS_NAMES

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def stage1_run(tmp_path_factory) -> Path:
    return make_stage1_run(tmp_path_factory.mktemp("cnerf_report_runs"), azimuth_std=0.2, elevation_std=0.1)


def direct_world_counts(zip_path: Path) -> np.ndarray:
    """Class-id counts of every mask PNG in the zip, read without gan3d."""
    counts = np.zeros(len(CLASS_NAMES), np.int64)
    with zipfile.ZipFile(zip_path) as z:
        for name in z.namelist():
            if name.startswith("masks/") and name.endswith(".png"):
                ids = np.asarray(Image.open(io.BytesIO(z.read(name))))
                counts += np.bincount(ids.ravel(), minlength=len(CLASS_NAMES))
    return counts


def test_world_shares_are_a_direct_count_of_the_true_masks(synth_heads):
    from gan3d.data import open_dataset

    shares = world_class_shares(open_dataset(synth_heads), 9, progress=False)
    counts = direct_world_counts(synth_heads)
    assert counts.sum() == 6 * 64 * 64
    assert torch.allclose(shares.double(), torch.from_numpy(counts / counts.sum()), atol=1e-6)
    assert float(shares.sum()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(InputError, match="9 classes but the model has 7"):
        world_class_shares(open_dataset(synth_heads), 7, progress=False)


def test_generated_shares_count_the_argmax_of_the_output_masks(stage1_run):
    G = load_snapshot(stage1_run)
    seeds = [0, 1, 2]
    cams = sample_cameras("training", 3, seed=0, half_fov_degrees=G.config.half_fov_degrees)
    shares = generated_class_shares(G, seeds, cams, batch=2, progress=False)
    assert shares.shape == (9,) and float(shares.sum()) == pytest.approx(1.0, abs=1e-6)
    import gan3d

    with torch.no_grad():  # the same samples one by one: the shares are their pixels' arg-max classes
        labels = torch.cat([G.synthesize(G.mapping(gan3d.sample_latents(G, [s]).z, truncation_psi=1.0), cams[i])
                            .semantic.argmax(1).flatten() for i, s in enumerate(seeds)])
    assert torch.allclose(shares, torch.bincount(labels, minlength=9).float() / labels.numel(), atol=1e-6)


def test_cameras_follow_the_runs_training_law_or_the_data_sets_labels(stage1_run, synth_heads):
    from gan3d.data import open_dataset
    from gan3d_cnerf.camera import angles_from_camera

    law = run_camera_law(stage1_run / "snapshots")
    assert (law.azimuth_std, law.elevation_std) == (0.2, 0.1)  # what the run recorded, not the official 0.3/0.15
    az, _ = angles_from_camera(sample_cameras("training", 2000, seed=1, law=law))
    assert float(az.std()) == pytest.approx(0.2, rel=0.1)
    labels = open_dataset(synth_heads).labels()
    cams = sample_cameras("dataset", 10, seed=0, labels=labels)
    rows = cams.to_eg3d_label()
    assert all(any(torch.allclose(r, lab, atol=1e-6) for lab in labels) for r in rows)
    with pytest.raises(InputError, match="camera labels"):
        sample_cameras("dataset", 2, seed=0, labels=None)


def test_report_writes_json_grid_and_locality(stage1_run, synth_heads, tmp_path):
    out = tmp_path / "report"
    report = synth_report(stage1_run, str(synth_heads), out, num=4, seed=0, locality_seeds=[0, 1],
                          grid_seeds=[0], grid_yaws=[0.0, 0.3], progress=False)
    saved = SynthReport.model_validate_json((out / "report.json").read_text())
    assert saved == report
    assert [c.name for c in report.classes] == list(CLASS_NAMES)
    assert sum(c.generated for c in report.classes) == pytest.approx(1.0, abs=1e-5)
    assert sum(c.world for c in report.classes) == pytest.approx(1.0, abs=1e-5)
    counts = direct_world_counts(synth_heads)
    assert [c.world for c in report.classes] == pytest.approx((counts / counts.sum()).tolist(), abs=1e-6)
    assert report.camera_law["azimuth_std"] == 0.2 and report.world_images == 6
    # one locality entry per region, a score per seed (None where the region is empty), means of those
    assert [r.region for r in report.locality] == list(CLASS_NAMES)
    for r in report.locality:
        measured = [s for s in r.scores if s is not None]
        assert len(r.scores) == 2 and r.measured == len(measured)
        assert all(0.0 <= s <= 1.0 for s in measured)
        assert (r.score is None) == (not measured)
        if measured:
            assert r.score == pytest.approx(sum(measured) / len(measured))
    assert any(r.score is not None for r in report.locality)
    # the grid: image, mask and depth rows of one seed at the 16 px render size, two yaws
    grid = np.asarray(Image.open(out / "grid.png"))
    assert grid.shape == (3 * 16, 2 * 16, 3)


def test_benchmark_script_prints_the_table(stage1_run, synth_heads, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("cnerf_synth_report", REPO / "benchmarks" / "cnerf_synth_report.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "r"
    assert script.main([str(stage1_run), "--num", "2", "--data", str(synth_heads), "--locality-seeds", "0-1",
                        "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "generated" in text and "world" in text and "locality" in text and "hair" in text
    data = json.loads((out / "report.json").read_text())
    assert data["num"] == 2 and len(data["classes"]) == 9
    assert not math.isnan(sum(c["generated"] for c in data["classes"]))
    assert script.main([str(tmp_path / "missing"), "--num", "2", "--data", str(synth_heads)]) == 2


def test_edit_locality_scores_each_edit_on_its_own_region_before_or_after():
    import gan3d
    from gan3d_cnerf.editing import edit_locality

    def output(labels: torch.Tensor, image: torch.Tensor) -> gan3d.GeneratorOutput:
        return gan3d.GeneratorOutput(image=image, semantic=torch.nn.functional.one_hot(labels, 9).permute(0, 3, 1, 2)
                                     .float())

    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    labels[:, :2, :2] = 3                                   # a mouth in the top-left corner
    before = output(labels, torch.zeros(1, 3, 4, 4))
    after_labels = labels.repeat(3, 1, 1)
    after_labels[1, 2:, 2:] = 7                              # edit 1: hair appears bottom-right
    image = torch.zeros(3, 3, 4, 4)
    image[0, :, :2, :2] = 1.0                                # edit 0 changes only the mouth
    image[1, :, 2:, 2:] = 1.0                                # edit 1 changes only where the hair now is
    image[2, :, 2:, 2:] = 1.0                                # edit 2 changes the rest, its region (eyes) is absent
    loc = edit_locality(before, output(after_labels, image), ["mouth", "hair", 2])
    assert loc["score"][:2].tolist() == [1.0, 1.0]
    assert loc["empty"].tolist() == [False, False, True] and math.isnan(float(loc["score"][2]))
    assert loc["mask"][1, 0, 2:, 2:].all() and not loc["mask"][1, 0, :2, :2].any()
    with pytest.raises(InputError, match="2 regions for 3 edits"):
        edit_locality(before, output(after_labels, image), ["mouth", "hair"])
