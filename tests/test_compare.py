"""Comparisons: identical latents and cameras, marked poses, the grid, the orbit video, latents.pt."""

import numpy as np
import torch
from PIL import Image

import gan3d
from gan3d.cli.main import main
from gan3d.compare import assign_latents
from gan3d.video import read_video_frames


def test_latent_assignment_rules():
    a, b, c = (gan3d.load(n) for n in ("toy/sphere", "toy/sphere16", "toy/sphere"))
    (la, na), (lb, nb), (lc, nc) = assign_latents([a, b, c], [3, 4], None)
    assert torch.equal(la.z, lc.z) and nc == "same z as toy/sphere"
    assert lb.z.shape == (2, 16) and "own draw" in nb
    assert torch.equal(lb.z, gan3d.sample_latents(16, [3, 4]).z)
    file_lat = gan3d.sample_latents(8, [9])
    file_lat.z += 1  # not a seed draw: must be passed through untouched
    (la, na), (lb, nb), _ = assign_latents([a, b, c], None, file_lat)
    assert torch.equal(la.z, file_lat.z) and na == "latents from file"
    assert torch.equal(lb.z, gan3d.sample_latents(16, [9]).z) and "own draw" in nb
    import pytest

    with pytest.raises(gan3d.InputError, match="differ from the latent file"):
        assign_latents([a, b], [0, 1], file_lat)
    # a file that fits none of the models is an error, not a silent redraw
    with pytest.raises(gan3d.InputError, match="holds z: 4 latents, which none of the models takes.*--seeds"):
        assign_latents([a, b], None, gan3d.sample_latents(4, [1]))


def test_compare_command_end_to_end(tmp_path, capsys):
    code = main(["compare", "toy/sphere", "toy/sphere16", "--seeds", "0-1", "--yaw", "-1:1:3", "--frames", "6",
                 "--tile", "32", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "own draw" in out
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[1] > 2 * 3 * 32 and grid.shape[0] > 2 * 32
    # views outside toy/sphere16's yaw range (+-0.5) carry a red frame; in-range ones don't
    red = (grid[..., 0] > 200) & (grid[..., 1] < 50) & (grid[..., 2] < 50)
    assert red.sum() > 100
    saved = torch.load(tmp_path / "latents.pt", weights_only=True)
    assert [m["model"] for m in saved["models"]] == ["toy/sphere", "toy/sphere16"]
    assert torch.equal(saved["models"][0]["z"], gan3d.sample_latents(8, [0, 1]).z)
    assert saved["cam2world"].shape == (3, 4, 4) and saved["yaw"] == [-1.0, 0.0, 1.0]
    frames = read_video_frames(tmp_path / "orbit.mp4")
    assert len(frames) == 6 and frames[0].shape[:2] == (64, 64)
    assert np.abs(frames[0].astype(int) - frames[2].astype(int)).mean() > 0.5  # the camera moves


def test_compare_lpips_against_the_first_model(tmp_path, capsys):
    # random LPIPS backbone: offline smoke test of the plumbing, not a meaningful distance
    code = main(["compare", "toy/sphere", "toy/sphere", "toy/sphere16", "--seeds", "0-1", "--yaw", "0", "--frames", "0",
                 "--tile", "32", "--lpips", "--lpips-random-backbone", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("LPIPS")]
    assert len(lines) == 2
    same = [float(x) for x in lines[0].split(": ")[1].split(", ")]
    assert same == [0.0, 0.0]  # identical model, identical latents and cameras
