"""Leaderboard tables: protocol-matched columns, published numbers apart, md/csv/html outputs."""

import re

from gan3d import leaderboard
from gan3d.cli.main import main
from gan3d.store import ResultStore, StoredResult


def _r(model, metric, value, ph="p1", ds="FFHQ", note=""):
    return StoredResult(run_id="r", model=model, metric=metric, value=value, n=100, protocol_hash=ph + "0000",
                        protocol={"p": ph}, dataset=ds, created="2026-11-23T00:00:00", weights_note=note)


def test_columns_split_by_protocol_and_rank_by_first_metric():
    rs = [_r("eg3d/ffhq512-128", "fid", 5.0), _r("liftedgan/ffhq256", "fid", 30.0), _r("cnerf/ffhq256", "fid", 12.0),
          _r("cnerf/ffhq256", "fid", 11.0, ph="p2"), _r("eg3d/ffhq512-128", "id", 0.7), _r("toy/sphere", "fid", 1.0, ds="analytic")]
    tables = leaderboard.build_tables(rs)
    assert [t.dataset for t in tables] == ["FFHQ", "analytic"]
    ffhq = tables[0]
    assert [(c.metric, c.protocol_hash[:2]) for c in ffhq.columns] == [("fid", "p1"), ("fid", "p2"), ("id", "p1")]
    assert [r.model for r in ffhq.rows] == ["eg3d/ffhq512-128", "cnerf/ffhq256", "liftedgan/ffhq256"]
    # published numbers appear in their own column and do not move the ranking
    lifted = next(r for r in ffhq.rows if r.model == "liftedgan/ffhq256")
    assert any(p.value == 29.81 for p in lifted.published)


def test_formats(tmp_path, capsys):
    rs = [_r("eg3d/ffhq512-128", "fid", 5.0, note="random weights"), _r("liftedgan/ffhq256", "fid", 30.0)]
    md = leaderboard.render(rs, "md")
    assert "| eg3d/ffhq512-128 [random weights] | 5 |" in md and "29.81" in md and "not ranked" in md
    csv_text = leaderboard.render(rs, "csv")
    assert csv_text.splitlines()[0].startswith("dataset,model") and len(csv_text.splitlines()) == 3
    page = leaderboard.render(rs, "html")
    assert "<table class='lb'>" in page and "data:image/png;base64," in page
    assert not re.search(r"(src|href)=['\"]https?://", page)  # self-contained
    store = tmp_path / "s.sqlite"
    with ResultStore(store) as st:
        for r in rs:
            st.add_result(r)
    assert main(["leaderboard", "--store", str(store), "--out", str(tmp_path / "lb.html")]) == 0
    assert (tmp_path / "lb.html").read_text().startswith("<!doctype html>")
    assert main(["leaderboard", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert "no results store" in capsys.readouterr().err


def test_undefined_values_show_as_na_and_get_no_bar_chart():
    rs = [_r("eg3d/ffhq512-128", "pose_yaw_error", float("nan")), _r("cnerf/ffhq512", "pose_yaw_error", float("nan"))]
    assert "| n/a |" in leaderboard.render(rs, "md")
    assert "data:image/png;base64," not in leaderboard.render(rs, "html")


def test_random_weight_results_never_stand_for_real_ones():
    real = _r("eg3d/ffhq512-128", "fid", 4.5)
    rand = _r("eg3d/ffhq512-128", "fid", 300.0, note="random weights")
    rand = rand.model_copy(update={"created": "2026-11-24T00:00:00"})  # newer
    rows = leaderboard.build_tables([real, rand])[0].rows
    assert [(r.weights_note, r.values[("fid", "p10000")].value) for r in rows] == [("", 4.5), ("random weights", 300.0)]
