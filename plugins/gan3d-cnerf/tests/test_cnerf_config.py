"""CNeRFConfig checks its values: a bad config read from a checkpoint is one CheckpointError naming the file,
every bad entry with its value and the fix, before any network is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

import gan3d
from gan3d.errors import CheckpointError
from gan3d_cnerf.cards import card_for_config
from gan3d_cnerf.config import CNeRFConfig
from gan3d_cnerf.generator import CNeRFGenerator
from gan3d_cnerf.train.options import STAGE1_PRESETS, STAGE2_PRESETS, Stage1Options, Stage2Options
from gan3d_cnerf.train.stage1 import stage1_config
from gan3d_cnerf.train.stage2 import stage2_config

TINY = CNeRFConfig(size=8, style_dim=4, num_classes=2, width=4, depth=1, render_resolution=8, num_samples=2,
                   full_pipeline=False)


def preset(table: dict, name: str) -> dict:
    return {k: v for k, v in table[name].items() if k not in ("batch", "kimg")}


@pytest.fixture()
def tiny_folder(tmp_path) -> Path:
    return CNeRFGenerator(card_for_config(TINY, "cnerf/tiny"), TINY).save_pretrained(tmp_path / "tiny")


def edit_config(folder: Path, **changes) -> Path:
    path = folder / "config.json"
    meta = json.loads(path.read_text())
    meta["config"].update(changes)
    path.write_text(json.dumps(meta))
    return path


def test_a_saved_config_with_bad_values_fails_to_load_naming_the_file_each_entry_and_the_fix(tiny_folder):
    path = edit_config(tiny_folder, num_samples=0, width=-3, colour="red")
    with pytest.raises(CheckpointError) as e:
        gan3d.load(str(tiny_folder))
    msg = str(e.value)
    assert msg.startswith(f"{path} holds 3 value(s)")
    assert "num_samples = 0: Input should be greater than or equal to 2" in msg
    assert "width = -3: Input should be greater than or equal to 1" in msg
    assert "colour = 'red': Extra inputs are not permitted" in msg  # unknown entries in the same message
    assert "write the model again with Generator.save_pretrained" in msg


def test_a_saved_full_config_whose_decoder_cannot_exist_names_size(tiny_folder):
    path = edit_config(tiny_folder, full_pipeline=True, size=12)
    with pytest.raises(CheckpointError) as e:
        gan3d.load(str(tiny_folder / "weights.pt"))
    msg = str(e.value)
    assert msg.startswith(str(path)) and "size = 12: the decoder's output must be a power of two above " \
                                          "render_resolution (8)" in msg


def test_the_untouched_tiny_checkpoint_still_loads(tiny_folder):
    G = gan3d.load(str(tiny_folder))
    assert isinstance(G, CNeRFGenerator) and G.config == TINY


def test_official_options_with_bad_values_name_the_official_entries(cnerf_fixture_dir):
    path = cnerf_fixture_dir / "config.json"
    opt = json.loads(path.read_text())
    assert CNeRFConfig.from_official_options(opt, source=str(path)).num_samples == 24  # as shipped: fine
    opt["rendering"]["N_samples"] = 1
    opt["camera"]["dist_radius"] = 1.5
    opt["model"]["size"] = 96
    with pytest.raises(CheckpointError) as e:
        CNeRFConfig.from_official_options(opt, source=str(path))
    msg = str(e.value)
    assert msg.startswith(f"{path} holds 2 value(s)")
    assert "rendering['N_samples'] = 1: Input should be greater than or equal to 2" in msg
    assert "camera['dist_radius'] = 1.5: Input should be less than 1" in msg
    assert "Correct these entries of the official options" in msg
    opt["rendering"]["N_samples"], opt["camera"]["dist_radius"] = 24, 0.12  # the cross-field check comes next
    with pytest.raises(CheckpointError, match=r"model\['size'\] = 96: the decoder's output must be a power of two"):
        CNeRFConfig.from_official_options(opt, source=str(path))


def test_official_stage1_options_are_the_low_resolution_model():
    opt = {"model": {"size": 64, "renderer_spatial_output_dim": 64}, "rendering": {"N_samples": 24}}
    c = CNeRFConfig.from_official_options(opt)
    assert not c.full_pipeline and c.size == c.render_resolution == 64
    with pytest.raises(CheckpointError, match="without SDF"):
        CNeRFConfig.from_official_options({"rendering": {"no_sdf": True}}, source="opt.json")


def test_replace_validates_and_keeps_the_original():
    c = CNeRFConfig()
    assert c.replace(num_samples=24).num_samples == 24 and c.num_samples == 64
    with pytest.raises(ValidationError, match="half_fov_degrees"):
        c.replace(half_fov_degrees=90)
    with pytest.raises(ValidationError):  # frozen: no silent edits
        c.num_samples = 3


def test_defaults_and_the_presets_configs_validate():
    assert CNeRFConfig.from_dict(CNeRFConfig().to_dict()) == CNeRFConfig()
    for name in ("official", "synth64"):
        o1, o2 = Stage1Options(**preset(STAGE1_PRESETS, name)), Stage2Options(**preset(STAGE2_PRESETS, name))
        c1 = stage1_config(o1)
        exported = stage1_config(o1, o1.export_samples, static_viewdirs=True)
        c2 = stage2_config(c1, o2)
        for c in (c1, exported, c2, c2.replace(num_samples=o2.export_samples, static_viewdirs=True)):
            assert CNeRFConfig.from_dict(c.to_dict(), source=name) == c
    assert (c2.size, c2.render_resolution, c2.full_pipeline) == (64, 32, True)  # synth64
