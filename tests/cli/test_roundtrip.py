"""Files one command writes and another reads, command to command; cameras across scene scales."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from gan3d_toy.plugin import CARD, ToySphere
from PIL import Image

import gan3d
from gan3d import registry
from gan3d.cli.main import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


# ---------------------------------------------------------------------------------------------- item 1
def test_compare_latents_feed_generate_and_compare_again(tmp_path, capsys):
    first = tmp_path / "cmp"
    code, _, err = run(capsys, "compare", "toy/sphere", "toy/sphere16", "--seeds", "3-4", "--yaw", "0.3", "--pitch", "0",
                       "--frames", "0", "--tile", "16", "--out", first)
    assert code == 0, err
    latents = first / "latents.pt"

    # generate takes the file and picks the latents of its own model (toy/sphere16's z: 16 draw)
    code, _, err = run(capsys, "generate", "toy/sphere16", "--latents", latents, "--yaw", "0.3", "--pitch", "0",
                       "--deterministic", "--out", tmp_path / "from_file")
    assert code == 0, err
    code, _, err = run(capsys, "generate", "toy/sphere16", "--seeds", "3-4", "--yaw", "0.3", "--pitch", "0",
                       "--deterministic", "--out", tmp_path / "from_seeds")
    assert code == 0, err
    for s in (3, 4):
        assert np.array_equal(png(tmp_path / "from_file" / f"seed000{s}.png"),
                              png(tmp_path / "from_seeds" / f"seed000{s}.png"))

    # compare on exactly these inputs later: every model gets what it got the first time
    again = tmp_path / "again"
    code, out, err = run(capsys, "compare", "toy/sphere", "toy/sphere16", "--latents", latents, "--yaw", "0.3",
                         "--pitch", "0", "--frames", "0", "--tile", "16", "--out", again)
    assert code == 0, err
    before = torch.load(latents, weights_only=True)["models"]
    after = torch.load(again / "latents.pt", weights_only=True)["models"]
    assert [m["seeds"] for m in after] == [[3, 4], [3, 4]]
    assert all(torch.equal(a["z"], b["z"]) for a, b in zip(before, after))
    assert out.count("latents from file") == 2

    # the Python API reads the same file
    lat = gan3d.Latents.load(latents, expect="toy/sphere16")
    assert lat.z.shape == (2, 16) and lat.seeds == [3, 4]


def test_a_saved_latent_file_round_trips_through_compare(tmp_path, capsys):
    z = gan3d.sample_latents(8, [0, 1])
    z.z += 0.5  # not a seed draw: must arrive untouched
    path = z.save(tmp_path / "mine.npz")
    code, _, err = run(capsys, "compare", "toy/sphere", "--latents", path, "--yaw", "0", "--frames", "0",
                       "--tile", "16", "--out", tmp_path / "c")
    assert code == 0, err
    saved = torch.load(tmp_path / "c" / "latents.pt", weights_only=True)
    assert torch.equal(saved["models"][0]["z"], z.z)


# ---------------------------------------------------------------------------------------------- item 6
NEAR = CARD.model_copy(update={"name": "toy/near", "camera": gan3d.CameraDefaults(radius=1.7, focal=4.2647)})


class _NearToy:
    """A toy sphere made for a camera 1.7 units away (depths 1.2..2.2), like ShapeNet cars beside faces."""

    @gan3d.hookimpl
    def gan3d_register_models(self):
        def build(card, files, device):
            G = ToySphere(card)
            G.renderer.ray_start, G.renderer.ray_end = 1.2, 2.2
            return G.to(device)

        return [gan3d.ModelEntry(NEAR, build)]


@pytest.fixture
def near_model():
    registry.register(_NearToy(), name="test-near-toy")
    yield "toy/near"
    registry.unregister("test-near-toy")


def _rows(grid: np.ndarray, models: int, tile: int) -> list[np.ndarray]:
    left, top = max(170, tile + 40), 34
    return [grid[top + m * (tile + 18): top + m * (tile + 18) + tile, left:left + tile] for m in range(models)]


def test_compare_views_each_model_from_its_own_distance(near_model, tmp_path, capsys):
    code, _, err = run(capsys, "compare", near_model, "toy/sphere", "--seeds", "0", "--yaw", "0.3", "--pitch", "0",
                       "--frames", "2", "--tile", "32", "--out", tmp_path)
    assert code == 0, err
    rows = _rows(png(tmp_path / "grid.png"), 2, 32)
    assert all(r.max() > 60 for r in rows)  # a lit sphere in every row, no black one
    saved = torch.load(tmp_path / "latents.pt", weights_only=True)
    radii = [float(m["cam2world"][0, :3, 3].norm()) for m in saved["models"]]
    assert radii == pytest.approx([1.7, 2.7], abs=1e-4)  # same direction, each card's distance
    dirs = [m["cam2world"][0, :3, 3] / m["cam2world"][0, :3, 3].norm() for m in saved["models"]]
    assert torch.allclose(dirs[0], dirs[1], atol=1e-5)


def test_absolute_cameras_that_miss_a_model_are_an_error(near_model, tmp_path, capsys):
    code, _, err = run(capsys, "compare", near_model, "toy/sphere", "--seeds", "0", "--yaw", "0", "--frames", "0",
                       "--tile", "16", "--absolute-cameras", "--out", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert "toy/sphere renders depths 2.2..3.2" in err and "drop --absolute-cameras" in err
    assert not (tmp_path / "grid.png").exists()


def test_a_camera_that_misses_warns_loudly_in_python():
    G = gan3d.load("toy/sphere")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        G(gan3d.sample_latents(G, [0]).z, gan3d.Camera.orbit(0, 0, radius=1.7))
        G(gan3d.sample_latents(G, [1]).z, gan3d.Camera.orbit(0, 0, radius=1.7))
    empty = [w for w in caught if "EMPTY IMAGES" in str(w.message)]
    assert len(empty) == 1 and "depth 1.7" in str(empty[0].message)
