"""Every recipe the plugin ships is a valid training config (on a small stand-in for its data), and the
stage-2 recipe finds its stage-1 run by name, or says clearly that it must be trained first."""

from __future__ import annotations

from pathlib import Path

import pytest

import gan3d_cnerf
from cnerf_runs import make_stage1_run
from gan3d.errors import InputError
from gan3d.train.config import load_train_config, resolve_config

RECIPES = sorted((Path(gan3d_cnerf.__file__).parent / "recipes").glob("*.toml"))


def test_the_full_model_recipe_is_picked_up_by_reproduce():
    from gan3d.reproduce import SYNTH_RECIPES

    names = {p.name for p in RECIPES}
    assert {"synth64.toml", "synth64-stage2.toml"} <= names
    assert {p.name for p in RECIPES if p.match(SYNTH_RECIPES)} == names
    stage1 = load_train_config(RECIPES[[p.name for p in RECIPES].index("synth64.toml")])
    stage2 = load_train_config(RECIPES[[p.name for p in RECIPES].index("synth64-stage2.toml")])
    assert stage2["options"]["stage1"] == f"run:{stage1['name']}"
    assert stage2["data"] == stage1["data"] and stage2["metrics"] == stage1["metrics"] == ["fid"]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_resolves_with_its_stage1_run(recipe, synth_heads, tmp_path):
    data = load_train_config(recipe)
    stage1_name = load_train_config(recipe.parent / "synth64.toml")["name"]
    run = make_stage1_run(tmp_path / "runs", stage1_name)
    # the recipe's world has 10000 heads; its checks run on six of them (same format, masks and classes)
    resolved = resolve_config({**data, "data": str(synth_heads), "out": str(tmp_path / "runs")})
    assert resolved.config.method == data["method"] and resolved.kimg > 0
    if data["method"] == "cnerf-full":
        # run:NAME became the stage-1 run's latest generator folder (what train-config.json records)
        assert Path(resolved.options["stage1"]) == run / "snapshots" / "000000.008" / "generator"


def test_stage2_recipe_without_its_stage1_run_is_refused_clearly(synth_heads, tmp_path):
    data = load_train_config(RECIPES[[p.name for p in RECIPES].index("synth64-stage2.toml")])
    with pytest.raises(InputError) as e:
        resolve_config({**data, "data": str(synth_heads), "out": str(tmp_path / "empty")})
    msg = str(e.value)
    assert "options.stage1" in msg and "cnerf-synth64" in msg and "first" in msg
