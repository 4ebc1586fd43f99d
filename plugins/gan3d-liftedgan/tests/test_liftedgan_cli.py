"""The command line on the fixture weights: generate, compare, video, inspect."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import gan3d
from gan3d.cli.main import main
from gan3d_liftedgan.cli import official_uint8, sweep


def test_generate_and_compare(safe_folder, tmp_path, weights):
    out = tmp_path / "gen"
    assert main(["generate", str(safe_folder), "--seeds", "0", "--yaw", "0.3,-0.3", "--pitch", "0",
                 "--depth", "--out", str(out), "--device", "cpu"]) == 0
    img = np.asarray(Image.open(out / "seed0000.png"))
    assert img.shape == (512, 512, 3)  # two views side by side, a depth row below
    assert (out / "grid.png").is_file()
    # a turned face is not its mirror-free copy: the two views differ
    assert np.abs(img[:256, :256].astype(int) - img[:256, 256:].astype(int)).mean() > 1
    # compare: the converted (safe) form against the authors' folder layout, same seeds and cameras
    from liftedgan_testutils import write_official_folder

    run = write_official_folder(tmp_path / "official", weights)
    cmp = tmp_path / "cmp"
    assert main(["compare", str(safe_folder), str(run), "--seeds", "0", "--yaw", "0.3", "--pitch", "0",
                 "--frames", "0", "--out", str(cmp), "--device", "cpu"]) == 0
    assert any(p.suffix == ".png" for p in cmp.rglob("*"))


def test_sweeps_are_the_official_ones():
    assert len(sweep("yaw", False)) == 31 and sweep("yaw", False)[0] == -45
    assert len(sweep("pitch", False)) == 31 and sweep("pitch", False)[-1] == 15
    assert len(sweep("yaw", True)) == 21 and sweep("pitch", True)[0] == -60


def test_official_uint8_truncates():
    import torch

    x = torch.tensor([-2.0, -1.0, 0.0, 0.999, 1.5]).view(1, 1, 1, 5)
    assert official_uint8(x)[0, 0, :, 0].tolist() == [0, 0, 127, 254, 255]


@pytest.mark.parametrize("extra,name,frames", [
    (["--path", "yaw", "--format", "gif"], "seed0002_yaw.gif", 2),
    (["--path", "pitch", "--format", "mp4"], "seed0002_pitch.mp4", 2),
    (["--relight", "--format", "gif"], "seed0002_light.gif", 2),
])
def test_video(safe_folder, tmp_path, extra, name, frames, capsys):
    out = tmp_path / "vid"
    assert main(["video", str(safe_folder), "--seeds", "2", "--frames", str(frames), "--out", str(out),
                 "--device", "cpu", *extra]) == 0
    assert f"{frames}/{frames}" in capsys.readouterr().err  # a progress bar over the frames
    path = out / name
    assert path.is_file() and path.stat().st_size > 1000
    if path.suffix == ".gif":
        im = Image.open(path)
        assert im.n_frames == frames and im.size == (256, 256)
        im.seek(0)
        first = np.asarray(im.convert("RGB")).astype(int)
        im.seek(frames - 1)
        last = np.asarray(im.convert("RGB")).astype(int)
        assert np.abs(first - last).mean() > 1  # the sweep changes the picture
    else:
        import imageio.v3 as iio

        assert iio.imread(path).shape == (frames, 256, 256, 3)


def test_interpolation_video(safe_folder, tmp_path):
    assert main(["video", str(safe_folder), "--interp", "1,5", "--frames", "2", "--out", str(tmp_path),
                 "--device", "cpu"]) == 0
    assert Image.open(tmp_path / "interp1-5_yaw.gif").n_frames == 2
    assert main(["video", str(safe_folder), "--interp", "1", "--out", str(tmp_path)]) == 2


def test_inspect_maps(safe_folder, tmp_path):
    assert main(["inspect", str(safe_folder), "--seeds", "3", "--out", str(tmp_path), "--device", "cpu"]) == 0
    for k in ("render", "canonical", "albedo", "shading", "depth", "normal", "transformation"):
        im = np.asarray(Image.open(tmp_path / f"seed0003_{k}.png"))
        assert im.shape == (256, 256, 3)
        assert im.std() > 0, k  # not a blank map
    assert np.asarray(Image.open(tmp_path / "seed0003.png")).shape == (256, 7 * 256, 3)


def test_commands_refuse_other_models(tmp_path):
    if "toy/sphere" not in gan3d.list_models():
        pytest.skip("toy plugin not installed")
    assert main(["inspect", "toy/sphere", "--out", str(tmp_path)]) == 2
