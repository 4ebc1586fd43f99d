"""Leaderboard tables: protocol-matched columns, published numbers apart, md/csv/html outputs."""

import csv
import io
import json
import re

import pytest
from pydantic import ValidationError

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
    # measured datasets first, then those with only published numbers
    assert [t.dataset for t in tables] == ["FFHQ", "analytic", "AFHQ cats", "ShapeNet cars"]
    assert tables[2].rows == [] and tables[2].published
    ffhq = tables[0]
    assert [(c.metric, c.protocol_hash[:2]) for c in ffhq.columns] == [("fid", "p1"), ("fid", "p2"), ("id", "p1")]
    assert [r.model for r in ffhq.rows] == ["eg3d/ffhq512-128", "cnerf/ffhq256", "liftedgan/ffhq256"]
    # published numbers appear in their own column and do not move the ranking
    lifted = next(r for r in ffhq.rows if r.model == "liftedgan/ffhq256")
    assert any(p.value == 29.81 for p in lifted.published)
    assert {p.model for p in ffhq.published} >= {"liftedgan/ffhq256", "eg3d/ffhq512-128"}


def test_formats(tmp_path, capsys):
    rs = [_r("eg3d/ffhq512-128", "fid", 5.0, note="random weights"), _r("liftedgan/ffhq256", "fid", 30.0)]
    md = leaderboard.render(rs, "md")
    assert "| eg3d/ffhq512-128 [random weights] | 5 |" in md and "29.81" in md and "not ranked" in md
    csv_rows = list(csv.DictReader(io.StringIO(leaderboard.render(rs, "csv"))))
    assert [r["kind"] for r in csv_rows[:2]] == ["measured", "measured"]
    published_rows = [r for r in csv_rows if r["kind"] == "published"]
    assert len(published_rows) == len(leaderboard.published()) and all(r["source"] for r in published_rows)
    page = leaderboard.render(rs, "html")
    assert "<table class='lb'>" in page and "<svg class='chart bar'" in page
    assert page.count("Published (not ranked)") == 3  # FFHQ, AFHQ cats, ShapeNet cars
    assert not re.search(r"(src|href)=['\"]https?://", page)  # self-contained
    store = tmp_path / "s.sqlite"
    with ResultStore(store) as st:
        for r in rs:
            st.add_result(r)
    assert main(["leaderboard", "--store", str(store), "--out", str(tmp_path / "lb.html")]) == 0
    assert (tmp_path / "lb.html").read_text().startswith("<!doctype html>")
    assert main(["leaderboard", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert "no results store" in capsys.readouterr().err
    assert main(["leaderboard", "--store", str(store), "--grid", str(tmp_path / "nogrid.png")]) == 2
    assert "nogrid.png does not exist" in capsys.readouterr().err


def test_undefined_values_show_as_na_and_get_no_bar_chart():
    rs = [_r("eg3d/ffhq512-128", "pose_yaw_error", float("nan")), _r("cnerf/ffhq512", "pose_yaw_error", float("nan"))]
    assert "| n/a |" in leaderboard.render(rs, "md")
    assert "<svg class='chart bar'" not in leaderboard.render(rs, "html")


def test_results_stored_under_older_dataset_spellings_join_todays_table():
    rs = [_r("liftedgan/ffhq256", "fid", 30.0, ds="ffhq"), _r("eg3d/ffhqrebalanced512-128", "fid", 5.0,
                                                                 ds="FFHQ (pose-rebalanced)")]
    ffhq = leaderboard.build_tables(rs)[0]
    assert ffhq.dataset == "FFHQ" and [r.model for r in ffhq.rows] == ["eg3d/ffhqrebalanced512-128", "liftedgan/ffhq256"]


def test_random_weight_results_never_stand_for_real_ones():
    real = _r("eg3d/ffhq512-128", "fid", 4.5)
    rand = _r("eg3d/ffhq512-128", "fid", 300.0, note="random weights")
    rand = rand.model_copy(update={"created": "2026-11-24T00:00:00"})  # newer
    rows = leaderboard.build_tables([real, rand])[0].rows
    assert [(r.weights_note, r.values[("fid", "p10000")].value) for r in rows] == [("", 4.5), ("random weights", 300.0)]


def test_published_entries_are_complete_and_land_in_their_models_table():
    """Every quoted number names its source, place and protocol, and uses its card's dataset spelling."""
    from gan3d.catalog import known_names
    from gan3d.registry import list_models, model_card

    entries = leaderboard.published()
    assert len(entries) >= 9
    cards = {name: model_card(name) for name in list_models()}
    for p in entries:
        assert p.model in known_names(), p.model
        if p.model in cards:  # its plugin is installed (it is in the test environment)
            assert p.dataset == cards[p.model].dataset, (p.model, p.dataset)
    # the reproduction's number measures its own re-trained model, and says so
    (repro,) = [p for p in entries if p.value == 25.54]
    assert repro.weights == "retrained" and "10.5281/zenodo.6574719" in repro.source


def test_published_schema_rejects_incomplete_entries():
    good = json.loads(leaderboard.resources.files("gan3d").joinpath("data/published.json").read_text())["entries"][0]
    leaderboard.Published(**good)
    for bad in ({**good, "metric": "fidd"}, {**good, "where": ""}, {**good, "weights": "mine"},
                {k: v for k, v in good.items() if k != "protocol"}, {**good, "extra": 1}):
        with pytest.raises(ValidationError):
            leaderboard.Published(**bad)


def test_html_sorting_works_in_every_table(tmp_path):
    """Run the page's own sort script (node, with a minimal DOM) on the second of two tables."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the sort script is not executed here")
    rs = [_r("eg3d/ffhq512-128", "fid", 5.0), _r("cnerf/ffhq512", "fid", 9.0),
          _r("toy/sphere", "fid", 3.0, ds="analytic"), _r("toy/sphere16", "fid", 1.0, ds="analytic"),
          _r("toy/sphere16", "id", 0.2, ds="analytic"), _r("toy/sphere", "id", 0.9, ds="analytic")]
    page = leaderboard.render(rs, "html")
    script = page[page.index("<script>") + 8:page.index("</script>")]
    tables = [t for t in leaderboard.build_tables(rs, with_published=False)]
    # the DOM: tables with header cells and rows whose cells carry data-v like the page's
    dom = [[[{"v": str(r.values[(c.metric, c.protocol_hash)].value) if (c.metric, c.protocol_hash) in r.values
              else "", "text": r.model} for c in t.columns] for r in t.rows] for t in tables]
    mock = """
var data = %s, ths = [], bodies = [];
data.forEach(function (rows, ti) {
  var body = {rows: [], appendChild: function (r) { this.rows.splice(this.rows.indexOf(r), 1); this.rows.push(r); }};
  rows.forEach(function (cells) {
    body.rows.push({cells: [{dataset: {}, textContent: cells[0].text}].concat(
      cells.map(function (c) { return {dataset: {v: c.v}, textContent: c.v}; }))});
  });
  bodies.push(body);
  var table = {tBodies: [body]};
  for (var i = 0; i <= rows[0].length; i++) {
    (function (i) {
      var th = {cellIndex: i, dataset: {}, closest: function () { return table; },
                addEventListener: function (ev, f) { th.click = f; }};
      ths.push(th);
    })(i);
  }
});
var document = {querySelectorAll: function () { return ths; }};
%s
ths[ths.length - 1].click();  // the last column (id) of the second table
console.log(JSON.stringify(bodies[1].rows.map(function (r) { return r.cells[0].textContent; })));
""" % (json.dumps(dom), script)
    out = subprocess.run([node, "-e", mock], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["toy/sphere16", "toy/sphere"]  # ascending id: 0.2, 0.9
