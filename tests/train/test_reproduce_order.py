"""`gan3d reproduce` trains a recipe whose options name ``run:NAME`` after the recipe called NAME, into the same
``out``; references it cannot satisfy, and cycles, are refused before any training."""

from __future__ import annotations

import importlib.util
import json

import pytest

from gan3d.errors import InputError
from gan3d.reproduce import reproduce, synth_recipes
from gan3d.train.config import resolve_config
from gan3d.train.loop import train
from gan3d.train.snapshot import CONFIG
from train_helpers import toy_config, write_toml


def _recipe(tmp_path, sphere_data, name: str, **options):
    cfg = toy_config(sphere_data, "ignored", name=name, **({"options": options} if options else {}))
    return write_toml(tmp_path / f"{name}.toml", cfg)


def test_default_recipes_include_the_teacher_and_not_ablations():
    recipes = synth_recipes()
    assert all(r.parent.name == "recipes" and "synth64" in r.name for r in recipes)
    if importlib.util.find_spec("gan3d_liftedgan"):
        assert "stylegan2-synth64.toml" in {r.name for r in recipes}


def test_a_recipe_trains_after_the_run_it_names(sphere_data, tmp_path):
    student = _recipe(tmp_path, sphere_data, "student", init_from="run:teacher")
    teacher = _recipe(tmp_path, sphere_data, "teacher")
    plain = _recipe(tmp_path, sphere_data, "plain")
    out = tmp_path / "repro"
    done = reproduce([student, plain, teacher], out=out, progress=False, log=lambda *a: None)
    assert [d.recipe for d in done] == [plain, teacher, student]  # otherwise the given order
    assert [d.run.name for d in done] == ["00000-plain", "00001-teacher", "00002-student"]
    options = json.loads((done[2].run / CONFIG).read_text())["options"]
    assert options["init_from"] == str(out / "00001-teacher" / "snapshots" / "000000.008" / "generator")


def test_a_run_already_in_out_serves_and_a_missing_one_is_refused_first(sphere_data, tmp_path):
    student = _recipe(tmp_path, sphere_data, "student", init_from="run:teacher")
    other = _recipe(tmp_path, sphere_data, "other")
    out = tmp_path / "repro"
    with pytest.raises(InputError, match=r"options.init_from: 'run:teacher': no run folder NNNNN-teacher .*"
                                         r"train the recipe whose name is 'teacher' first"):
        reproduce([other, student], out=out, progress=False, log=lambda *a: None)
    assert not any(out.iterdir())  # nothing trained, not even the recipe that could have
    teacher = train(resolve_config(toy_config(sphere_data, out, name="teacher")), progress=False)
    (rep,) = reproduce([student], out=out, progress=False, log=lambda *a: None)
    options = json.loads((rep.run / CONFIG).read_text())["options"]
    assert options["init_from"] == str(teacher / "snapshots" / "000000.008" / "generator")


def test_cycles_are_refused_before_any_training(sphere_data, tmp_path):
    a = _recipe(tmp_path, sphere_data, "a", init_from="run:b")
    b = _recipe(tmp_path, sphere_data, "b", init_from="run:a")
    selfish = _recipe(tmp_path, sphere_data, "selfish", init_from="run:selfish")
    out = tmp_path / "repro"
    with pytest.raises(InputError, match=r"form a cycle .*a.toml needs 'b'; .*b.toml needs 'a'"):
        reproduce([a, b], out=out, progress=False, log=lambda *a: None)
    with pytest.raises(InputError, match=r"form a cycle .*selfish.toml needs 'selfish'"):
        reproduce([selfish], out=out, progress=False, log=lambda *a: None)
    assert not out.exists() or not any(out.iterdir())
