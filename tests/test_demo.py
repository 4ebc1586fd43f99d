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


def test_demo_picks_each_methods_flagship_without_cached_weights():
    import importlib.util

    from gan3d.demo import pick_models

    picks = pick_models()
    assert "toy/sphere" not in picks or len(picks) == 1
    if importlib.util.find_spec("gan3d_eg3d"):
        assert "eg3d/ffhq512-128" in picks  # the catalogue's first variant, not the alphabetical first


def test_demo_without_weights_runs_on_random_weights_and_labels_them(tmp_path, capsys):
    """A real model whose weights are not here: loud message, and "random weights" on every row."""
    import importlib.util

    import pytest

    if not importlib.util.find_spec("gan3d_eg3d"):
        pytest.skip("the EG3D plugin is not installed")
    code = main(["demo", "--models", "eg3d/shapenetcars128-64", "--seeds", "0", "--yaw", "0", "--num", "2",
                 "--metrics", "pose", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0
    assert "RANDOM WEIGHTS" in captured.out + captured.err
    db = sqlite3.connect(tmp_path / "results.sqlite")
    assert db.execute("SELECT DISTINCT model, weights_note FROM models").fetchall() == \
        [("eg3d/shapenetcars128-64", "random weights")]
    page = (tmp_path / "leaderboard.html").read_text()
    assert "eg3d/shapenetcars128-64 <span class='random'>[random weights]</span>" in page
