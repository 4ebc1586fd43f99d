"""Region editing, locality, per-region rendering and the commands, on the fixture weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gan3d.cli.main import main
from gan3d.errors import InputError
from gan3d_cnerf.classes import CLASS_NAMES, colorize, region_index
from gan3d_cnerf.editing import locality, move_region, parse_steps, swap_region


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_region_names_and_their_errors():
    assert region_index("mouth") == 3 and region_index("brows") == 4 and region_index("lips") == 3
    with pytest.raises(InputError) as e:
        region_index("beard")
    assert all(name in str(e.value) for name in CLASS_NAMES)
    with pytest.raises(InputError, match="out of range"):
        region_index(9)


def test_steps_parse_and_out_of_range_steps_are_refused():
    assert parse_steps("-3:3:7") == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    assert parse_steps("-2,0,2") == [-2.0, 0.0, 2.0]
    for bad in ("-100:3:3", "0:1:0", "0:1:1000", "nan", "x:y:z", "1,inf"):
        with pytest.raises(InputError):
            parse_steps(bad)


def test_swap_and_move_touch_only_the_region_slots(small_generator, official_io):
    G = small_generator
    z = official_io["inputs"]["z"]
    w3, w8 = G.mapping(z[:1], truncation_psi=0.7), G.mapping(z[1:], truncation_psi=0.7)
    k = region_index("mouth")
    swapped = swap_region(w3, w8, "mouth", "texture")
    changed = (swapped != w3).any(-1)[0].nonzero().flatten().tolist()
    assert changed == [2 * k + 1]
    moved = move_region(w3, "nose", [-2.0, 0.0, 2.0], "self", "shape")
    assert moved.shape == (3,) + w3.shape[1:]
    nose = 2 * region_index("nose")
    assert torch.equal(moved[1], w3[0])
    step = moved[2, nose] - w3[0, nose]
    assert torch.allclose(step, 2 * w3[0, nose] / w3[0, nose].norm(), atol=1e-5)
    others = [r for r in range(w3.shape[1]) if r != nose]
    assert torch.equal(moved[:, others], w3[:, others].expand(3, -1, -1))


def test_locality_score_is_high_for_changes_inside_the_mask():
    before = torch.zeros(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :4] = 1
    inside = before.clone()
    inside[..., :4, :4] = 0.5
    spread = before + 0.5
    assert float(locality(before, inside, mask)["score"]) == pytest.approx(1.0)
    assert float(locality(before, spread, mask)["score"]) == pytest.approx(0.5)
    assert torch.isnan(locality(before, before, mask)["score"]).all()


def test_regions_from_one_rendering_equal_the_official_semantic_subset(small_generator, official_io,
                                                                       fixture_cameras):
    G = small_generator
    w = G.mapping(official_io["inputs"]["z"][:1], truncation_psi=0.7)
    with torch.no_grad():
        out, images = G.render_regions(w, fixture_cameras[0], regions=[2, 4])
        subset = G.synthesize(w, fixture_cameras[0], semantics=[2])
    ref = official_io["outputs"]["B"]
    assert (out.image - ref["image"][:1]).abs().max() <= 5e-4  # the full image is unchanged
    assert images.shape == (1, 2, 3, 128, 128)
    assert (images[:, 0] - subset.image).abs().max() <= 1e-4
    assert out.extras["regions"].shape == (1, 9, 3, 64, 64)


def test_mesh_and_colour_coded_mask(small_generator, official_io, fixture_cameras):
    G = small_generator
    w = G.mapping(official_io["inputs"]["z"][:1])
    with torch.no_grad():
        out = G.synthesize(w, fixture_cameras[0], resolution=12, num_samples=8, decode=False, return_mesh=True)
    verts, faces = out.extras["mesh_vertices"], out.extras["mesh_faces"]
    assert verts.shape == (1, 144, 3) and faces.shape == (1, 2 * 11 * 11, 3)
    assert torch.equal(verts[0, 13], out.extras["xyz"][0, :, 1, 1])
    # faces wind towards the camera: their normals point at it
    v = verts[0][faces[0]]
    normals = torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    to_cam = torch.nn.functional.normalize(fixture_cameras[0].origin - v.mean(1), dim=-1)
    assert float(((normals * to_cam).sum(-1) > 0).float().mean()) > 0.9
    coloured = colorize(out.semantic)
    assert coloured.shape == (1, 3, 12, 12) and coloured.min() >= -1 and coloured.max() <= 1
    # the plugin's figures use the core's mask colours (one palette for grids, the viewer and CNeRF's commands)
    from gan3d.images import colorize_labels

    core = torch.from_numpy(colorize_labels(out.semantic)).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.equal(coloured, core)


def test_generate_regions_edit_and_sweep_commands(capsys, fixture_model_dir, tmp_path):
    model = str(fixture_model_dir)
    code, out, err = run(capsys, "generate", model, "--seeds", "3", "--yaw", "0", "--pitch", "0",
                         "--out", str(tmp_path / "gen"))
    assert code == 0, err
    assert Image.open(tmp_path / "gen" / "seed0003.png").size == (128, 128)

    code, out, err = run(capsys, "generate", model, "--seeds", "3", "--yaw", "0", "--pitch", "0", "--semantic",
                         "--out", str(tmp_path / "sem"))
    assert code == 0, err
    both = np.asarray(Image.open(tmp_path / "sem" / "seed0003.png"))
    assert both.shape == (256, 128, 3)  # the image over its colour-coded label map
    assert len(np.unique(both[128:].reshape(-1, 3), axis=0)) >= 3  # several classes visible

    code, out, err = run(capsys, "regions", model, "--seed", "3", "--tile", "64", "--out", str(tmp_path / "reg"))
    assert code == 0, err
    grid = np.asarray(Image.open(tmp_path / "reg" / "seed0003_regions.png"))
    assert grid.shape[1] == 64 * 11  # image, mask and nine regions

    code, out, err = run(capsys, "edit", model, "--seed", "3", "--region", "mouth", "--from-seed", "8",
                         "--tile", "64", "--out", str(tmp_path / "edit"))
    assert code == 0, err
    assert "locality" in out and (tmp_path / "edit" / "seed0003_mouth_from8.png").is_file()

    code, out, err = run(capsys, "edit", model, "--seed", "3", "--region", "nose", "--direction", "self",
                         "--steps", "-3:3:3", "--tile", "32", "--out", str(tmp_path / "edit"))
    assert code == 0, err
    assert out.count("locality") == 3

    code, out, err = run(capsys, "edit", model, "--region", "nostril", "--from-seed", "8")
    assert code == 2 and "mouth" in err and "background" in err
    code, out, err = run(capsys, "edit", model, "--region", "nose", "--direction", "self", "--steps", "-99:3:3")
    assert code == 2 and "out of range" in err
    code, out, err = run(capsys, "edit", model, "--region", "nose")
    assert code == 2 and "--from-seed" in err


def test_official_sweep_command_writes_images_masks_and_video(capsys, fixture_model_dir, tmp_path):
    # `gan3d video` on a CNeRF model is the official sweep, always with its MP4
    code, out, err = run(capsys, "video", str(fixture_model_dir), "--seeds", "0", "--tile", "32", "--out", str(tmp_path))
    assert code == 0, err
    assert "10/10" in err and "view" in err  # a progress bar over the views
    grid = np.asarray(Image.open(tmp_path / "seed0000_sweep.png"))
    assert grid.shape[1] == 10 * 32  # ten azimuths
    assert (tmp_path / "sweep.mp4").stat().st_size > 0


def test_edit_of_a_region_absent_from_the_image_says_so(capsys, fixture_model_dir, tmp_path):
    # the fixture's seed 3 shows no hair from the frontal camera
    code, out, err = run(capsys, "edit", str(fixture_model_dir), "--seed", "3", "--region", "hair", "--direction",
                         "self", "--steps", "0:1:2", "--tile", "16", "--out", str(tmp_path))
    assert code == 0, err
    assert "the hair region is empty for seed 3" in err
    assert out.count("locality n/a (region empty)") == 2 and "locality 0.000" not in out
    assert "edit hair" in err  # progress over the edits
