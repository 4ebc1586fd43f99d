"""The demo end to end at a tiny size (toy models; the real demo runs every installed method)."""

import sqlite3

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


def test_demo_lists_missing_official_weights_instead_of_rendering_noise(tmp_path, capsys):
    import importlib.util

    import pytest

    from gan3d.demo import plan_models

    if not importlib.util.find_spec("gan3d_eg3d"):
        pytest.skip("the EG3D plugin is not installed")
    plan = plan_models()
    assert "toy/sphere" not in plan.names
    # nothing cached, nothing shipped: the method's flagship (the catalogue's first variant) is listed, not shown
    assert "eg3d/ffhq512-128" in plan.missing and "eg3d/ffhq512-128" not in plan.names
    assert "gan3d weights add FILE --model eg3d/ffhq512-128" in plan.missing["eg3d/ffhq512-128"]
    assert "eg3d/ffhq512-128" in plan_models(random_weights=True).random
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
    assert plan.names[0] == "toy/shipped"
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
