"""The EG3D command-line tools on the ShapeNet fixture weights, with tiny settings (fast on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import gan3d
from eg3d_helpers import load_fixture
from gan3d.cli.main import main
from gan3d_eg3d.commands import create_samples, crop_slices, density_grid


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """The ShapeNet fixture in gan3d's safe form (a temporary folder, never inside the repository)."""
    G, _, _ = load_fixture("shapenetcars128-64")
    return str(G.save_pretrained(tmp_path_factory.mktemp("eg3d") / "shapenet"))


def test_video_orbit_per_seed_and_interpolation(model, tmp_path, capsys):
    import imageio.v3 as iio

    common = ["--frames", "2", "--nrr", "16", "--sample-mult", "0.5", "--fps", "10", "--out", str(tmp_path)]
    assert main(["video", model, "--seeds", "3", *common]) == 0
    frames = iio.imread(tmp_path / "seed0003_image.mp4")
    assert frames.shape[0] == 2 and frames.shape[1:3] == (128, 128)
    assert main(["video", model, "--seeds", "0,1", "--interpolate", "--mode", "depth", *common]) == 0
    frames = iio.imread(tmp_path / "interpolation_depth.mp4")
    assert frames.shape[0] == 4 and frames.shape[1:3] == (16, 16)  # 2 keyframes x 2 frames, depth at nrr
    assert "interpolation_depth.mp4" in capsys.readouterr().out


def test_shape_grid_is_the_official_one():
    pts = create_samples(4, 1.6)
    assert pts.shape == (64, 3)
    assert torch.allclose(pts[0], torch.tensor([-0.8, -0.8, -0.8]))
    # z is the fastest index; x and y carry the official float-division fraction
    assert torch.allclose(pts[1:4, 2], torch.tensor([-0.8 + 1.6 / 3, -0.8 + 3.2 / 3, 0.8]), atol=1e-6)
    assert abs(float(pts[3, 1]) - (-0.8 + (3 / 4) * 1.6 / 3)) < 1e-6
    assert abs(float(pts[3, 0]) - (-0.8 + (3 / 16) * 1.6 / 3)) < 1e-6
    xs, ys, zs = crop_slices([-0.8, 0.0, 0.0, 0.8, -0.8, 0.8], 5, 1.6)
    assert (xs, ys, zs) == (slice(2, 5), slice(2, 5), slice(0, 5))  # axis 0 is flipped


def test_shape_ply_mrc_crop_and_histogram(model, tmp_path):
    G = gan3d.load(model)
    vol = density_grid(G, gan3d.sample_latents(G, [0]).z, 24, 0.7, None)
    assert vol.shape == (24, 24, 24) and (vol[:2] == -1000).all() and (vol[:, :, -2:] == -1000).all()
    level = float(np.percentile(vol[vol > -1000], 90))  # the random fixture's density scale is not a car's
    args = ["--seeds", "0", "--res", "24", "--nrr", "16", "--out", str(tmp_path)]
    assert main(["shape", model, *args, "--format", "mrc"]) == 0
    import mrcfile

    with mrcfile.open(tmp_path / "seed0000.mrc") as mrc:
        assert mrc.data.shape == (24, 24, 24) and np.allclose(mrc.data, vol)
    assert main(["shape", model, *args, "--format", "ply", "--level", str(level), "--histogram"]) == 0
    ply = (tmp_path / "seed0000.ply").read_bytes()
    assert ply.startswith(b"ply\nformat binary_little_endian 1.0\nelement vertex ")
    n_full = int(ply.split(b"element vertex ")[1].split(b"\n")[0])
    assert n_full > 100
    assert Image.open(tmp_path / "seed0000_hist.png").size[0] > 100
    assert main(["shape", model, *args, "--format", "ply", "--level", str(level), "--crop", "-0.8,0,-0.8,0.8,-0.8,0.8"]) == 0
    n_crop = int((tmp_path / "seed0000.ply").read_bytes().split(b"element vertex ")[1].split(b"\n")[0])
    assert 0 < n_crop < n_full
    # a level the density never reaches is a clear error, not an empty mesh
    assert main(["shape", model, *args, "--format", "ply", "--level", "1e9"]) == 2


def test_sweep_grid(model, tmp_path):
    assert main(["sweep", model, "--seed", "5", "--dims", "9,30", "--deltas", "-10,10", "--nrr", "16",
                 "--out", str(tmp_path)]) == 0
    img = np.asarray(Image.open(tmp_path / "seed0005_dims9-30.png"))
    assert img.shape == (2 * 128, 3 * 128, 3)
    first, plus = img[:128, :128].astype(int), img[:128, 256:].astype(int)
    assert np.abs(first - plus).mean() > 0.5  # z[9]+10 changes the image
    assert main(["sweep", model, "--dims", "600", "--nrr", "16", "--out", str(tmp_path)]) == 2


def test_inspect_panels(model, tmp_path):
    assert main(["inspect", model, "--seed", "1", "--yaw", "1.2", "--nrr", "16", "--out", str(tmp_path)]) == 0
    img = np.asarray(Image.open(tmp_path / "seed0001_yaw+1.20_pitch+0.00.png"))
    assert img.shape == (128, 5 * 128, 3)  # opacity, depth, features3-5, image_raw, image
    for name in ("opacity", "depth", "features3-5", "image_raw", "image"):
        assert (tmp_path / f"seed0001_yaw+1.20_pitch+0.00_{name}.png").is_file()


def test_core_generate_runs_on_eg3d(model, tmp_path):
    assert main(["generate", model, "--seeds", "2", "--yaw", "0.4,-0.4", "--deterministic", "--depth",
                 "--out", str(tmp_path)]) == 0
    img = np.asarray(Image.open(tmp_path / "seed0002.png"))
    assert img.shape == (2 * 128, 2 * 128, 3)
