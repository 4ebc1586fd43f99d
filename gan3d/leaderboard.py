"""The leaderboard: measured results from the store as Markdown, CSV or a self-contained HTML page.

Numbers are only put in one column when their protocols match: a column is a (metric, protocol hash)
pair, so the same metric measured under two protocols becomes two columns, with a legend. Published
numbers (``gan3d/data/published.json``, each with its source and protocol) get their own labelled
column and never enter the measured ranking. The page also charts the FID-by-kimg curves that shipped
models' cards carry from their training runs, each captioned with its run's own protocol.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import plots
from .cards import ModelCard
from .io import write_text_atomic
from .store import StoredResult

# display name, lower is better
METRICS: dict[str, tuple[str, bool]] = {
    "fid": ("FID", True), "kid": ("KID", True), "id": ("ID", False),
    "pose_yaw_error": ("yaw err (deg)", True), "pose_pitch_error": ("pitch err (deg)", True),
    "pose_yaw_corr": ("yaw corr", False), "smile_std": ("smile std", True),
    "lpips_pair": ("LPIPS vs ref", True), "lpips_diversity": ("LPIPS div.", False),
}


class Published(BaseModel):
    """A number quoted from a paper or a third-party re-measurement: shown, never ranked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="the gan3d model name the number belongs to")
    dataset: str = Field(description="spelled as in the model's card, so it lands in that dataset's table")
    metric: str
    value: float
    weights: Literal["official", "retrained"] = Field(
        description="'official': the authors' released weights; 'retrained': a model the source trained itself")
    source: str = Field(min_length=1, description="who published it (paper, report, model zoo), with an identifier")
    where: str = Field(min_length=1, description="where in the source: table, row and column")
    protocol: str = Field(min_length=1, description="how it was measured, in words")

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; use one of {', '.join(METRICS)}")
        return v


def published() -> list[Published]:
    """Every entry of ``gan3d/data/published.json``, validated."""
    data = json.loads(resources.files("gan3d").joinpath("data/published.json").read_text())
    return [Published(**e) for e in data["entries"]]


@dataclass
class Column:
    metric: str
    protocol_hash: str
    protocol: dict

    @property
    def title(self) -> str:
        name = METRICS.get(self.metric, (self.metric, True))[0]
        return f"{name} [{self.protocol_hash[:6]}]"

    @property
    def lower_is_better(self) -> bool:
        return METRICS.get(self.metric, (self.metric, True))[1]


@dataclass
class Row:
    model: str
    weights_note: str
    values: dict[tuple[str, str], StoredResult] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)

    @property
    def date(self) -> str:
        return max((r.created for r in self.values.values()), default="")[:10]

    @property
    def versions(self) -> str:
        vs = {}
        for r in self.values.values():
            vs.update(r.versions)
        keys = ["gan3d", f"gan3d-{self.model.split('/', 1)[0]}"]  # the core and the model's own plugin
        return ", ".join(f"{k} {vs[k]}" for k in keys if k in vs)


@dataclass
class Table:
    dataset: str
    columns: list[Column]
    rows: list[Row]
    published: list[Published] = field(default_factory=list)  # every quoted number for this dataset


# spellings cards used before one name per domain; results stored under them join today's tables
_DATASET_ALIASES = {"ffhq": "FFHQ", "FFHQ (pose-rebalanced)": "FFHQ", "afhq-cat": "AFHQ cats",
                    "AFHQv2 cats": "AFHQ cats", "ShapeNet cars (SRN)": "ShapeNet cars"}


def build_tables(results: list[StoredResult], with_published: bool = True) -> list[Table]:
    """One table per dataset; the newest result wins per (model, metric, protocol). Columns go by metric,
    and within a metric the protocol measured on the most models comes first (it ranks the rows).

    Datasets with measured results come first; datasets with only published numbers follow, so a
    reader sees the quoted references even before measuring anything there.
    """
    by_ds: dict[str, list[StoredResult]] = {}
    for r in results:
        ds = r.dataset or "unknown"
        by_ds.setdefault(_DATASET_ALIASES.get(ds, ds), []).append(r)
    pubs = published() if with_published else []
    tables = []
    for ds, rs in sorted(by_ds.items()):
        cols: dict[tuple[str, str], Column] = {}
        rows: dict[tuple[str, str], Row] = {}
        for r in sorted(rs, key=lambda r: r.created):
            key = (r.metric, r.protocol_hash)
            cols.setdefault(key, Column(r.metric, r.protocol_hash, r.protocol))
            # a model measured with random weights is another row than the same model with real ones
            row = rows.setdefault((r.model, r.weights_note), Row(r.model, r.weights_note))
            row.values[key] = r
        order = list(METRICS)
        # within a metric, the protocol that most models share first: it ranks the table
        filled = {key: sum(key in row.values for row in rows.values()) for key in cols}
        columns = sorted(cols.values(), key=lambda c: (order.index(c.metric) if c.metric in order else 99,
                                                       c.metric, -filled[(c.metric, c.protocol_hash)],
                                                       c.protocol_hash))
        ds_pubs = [p for p in pubs if p.dataset == ds]
        for row in rows.values():
            row.published = [p for p in ds_pubs if p.model == row.model]
        # rank by the first column (measured only); rows without it go last
        first = (columns[0].metric, columns[0].protocol_hash) if columns else None
        sign = 1 if not columns or columns[0].lower_is_better else -1

        def rank(row: Row):
            r = row.values.get(first) if first else None
            missing = r is None or r.value != r.value
            return (missing, 0.0 if missing else sign * r.value, row.model)

        tables.append(Table(ds, columns, sorted(rows.values(), key=rank), ds_pubs))
    for ds in sorted({p.dataset for p in pubs} - set(by_ds)):
        tables.append(Table(ds, [], [], [p for p in pubs if p.dataset == ds]))
    return tables


def _fmt(r: StoredResult | None) -> str:
    if r is None:
        return "–"
    if r.value != r.value:
        return "n/a"  # undefined, e.g. no face detected
    v = f"{r.value:.4g}"
    return v + (f" ± {r.spread:.2g}" if r.spread is not None else "")


def _published_text(row: Row) -> str:
    return "; ".join(f"{METRICS[p.metric][0]} {p.value:g} ({p.weights} weights)" for p in row.published)


def _header(t: Table) -> list[str]:
    return ["model"] + [c.title for c in t.columns] + ["n", "date", "versions", "published (not ranked)"]


def _cells(t: Table, row: Row) -> list[str]:
    n = max((r.n for r in row.values.values()), default=0)
    name = row.model + (f" [{row.weights_note}]" if row.weights_note else "")
    return [name] + [_fmt(row.values.get((c.metric, c.protocol_hash))) for c in t.columns] + \
        [str(n), row.date, row.versions, _published_text(row)]


def _legend(t: Table) -> list[str]:
    return [f"[{c.protocol_hash[:6]}] {c.metric}: " + json.dumps(c.protocol, sort_keys=True) for c in t.columns]


def _published_rows(t: Table) -> list[list[str]]:
    return [[p.model, METRICS[p.metric][0], f"{p.value:g}", p.weights, p.protocol, f"{p.source}, {p.where}"]
            for p in t.published]


_PUB_HEADER = ["model", "metric", "value", "weights", "protocol", "source"]


def to_markdown(tables: list[Table]) -> str:
    out = ["# gan3d leaderboard", "",
           "Numbers in one column share a protocol (hash in brackets, legend below each table). "
           "Published numbers are quoted with their source and are not ranked.", ""]
    for t in tables:
        out += [f"## {t.dataset}", ""]
        if t.rows:
            out += ["| " + " | ".join(_header(t)) + " |", "|" + "---|" * len(_header(t))]
            out += ["| " + " | ".join(c.replace("|", "/") for c in _cells(t, r)) + " |" for r in t.rows]
            differ, rows, _ = legend_rows(t)
            head = ["column", "metric"] + differ
            out += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            out += ["| " + " | ".join(x.replace("|", "/") for x in cells) + " |" for cells in rows]
            out += ["", "Full protocols:", ""] + [f"- {line}" for line in _legend(t)] + [""]
        else:
            out += ["No measured results yet.", ""]
        if t.published:
            out += ["Published (not ranked):", "", "| " + " | ".join(_PUB_HEADER) + " |", "|" + "---|" * len(_PUB_HEADER)]
            out += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in _published_rows(t)]
            out += [""]
    return "\n".join(out)


def to_csv(tables: list[Table]) -> str:
    """Long format, one value per line; ``kind`` tells measured rows from published (quoted) ones."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["dataset", "model", "weights_note", "metric", "protocol_hash", "value", "spread", "n", "date",
                "kind", "protocol", "source"])
    for t in tables:
        for row in t.rows:
            for (metric, ph), r in sorted(row.values.items()):
                w.writerow([t.dataset, row.model, row.weights_note, metric, ph, r.value,
                            "" if r.spread is None else r.spread, r.n, r.created, "measured",
                            json.dumps(r.protocol, sort_keys=True), ""])
        for p in t.published:
            w.writerow([t.dataset, p.model, f"{p.weights} weights", p.metric, "", p.value, "", "", "", "published",
                        p.protocol, f"{p.source}, {p.where}"])
    return buf.getvalue()


def _bar_chart(t: Table, c: Column) -> str:
    """An inline SVG bar chart of one column, best first ('' without defined values); random-weight rows
    are hatched red and starred."""
    key = (c.metric, c.protocol_hash)
    vals = [(row.model + (" *" if row.weights_note else ""), row.values[key].value, bool(row.weights_note))
            for row in t.rows if key in row.values and row.values[key].value == row.values[key].value]
    vals.sort(key=lambda v: v[1] if c.lower_is_better else -v[1])
    if not vals:
        return ""
    title = c.title + (" (lower is better)" if c.lower_is_better else " (higher is better)")
    return plots.bar_chart([v[0] for v in vals], [v[1] for v in vals], title, highlight=[v[2] for v in vals])


def _flat(protocol: dict, prefix: str = "") -> dict[str, Any]:
    """``{"cameras": {"kind": "gaussian"}}`` -> ``{"cameras.kind": "gaussian"}`` (one level per dot)."""
    out: dict[str, Any] = {}
    for k, v in protocol.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _short(v: Any) -> str:
    text = "–" if v is None or v == "" else v if isinstance(v, str) else json.dumps(v)
    return text if len(text) <= 40 else text[:18] + "…" + text[-18:]


def legend_rows(t: Table) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    """The protocol legend of a table as ``(fields, rows, shared)``: ``fields`` are the protocol fields
    whose values differ between the table's columns (``metric`` aside), one row per column with its
    values of them; ``shared`` holds the fields every column has alike."""
    flats = [_flat(c.protocol) for c in t.columns]
    keys = sorted({k for f in flats for k in f} - {"metric"})
    differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]
    shared = {k: flats[0].get(k) for k in keys if k not in differ} if flats else {}
    rows = [[c.title, c.metric] + [_short(f.get(k)) for k in differ] for c, f in zip(t.columns, flats)]
    return differ, rows, shared


def _legend_html(t: Table) -> str:
    """The legend under a table: what differs between its columns' protocols first, the rest behind clicks."""
    e = html.escape
    differ, rows, shared = legend_rows(t)
    parts = ["<table class='legend'><thead><tr><th>column</th><th>metric</th>"]
    parts += [f"<th>{e(k)}</th>" for k in differ]
    parts.append("<th>full protocol</th></tr></thead><tbody>")
    for c, cells in zip(t.columns, rows):
        full = json.dumps(c.protocol, sort_keys=True, indent=1)
        parts.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in cells)
                     + f"<td><details><summary>hash {e(c.protocol_hash)}</summary><pre>{e(full)}</pre></details></td></tr>")
    parts.append("</tbody></table>")
    if shared:
        items = "".join(f"<tr><td>{e(k)}</td><td>{e(_short(v))}</td></tr>" for k, v in shared.items())
        parts.append(f"<details class='shared'><summary>same in every column ({len(shared)} protocol fields)</summary>"
                     f"<table class='legend'>{items}</table></details>")
    return "".join(parts)


def _run_of(model: str) -> str:
    """A training snapshot's run folder (``RUN/snapshots/<kimg>/generator`` -> ``RUN``), else the model."""
    p = Path(model)
    if len(p.parts) >= 4 and p.parts[-3] == "snapshots":
        return str(p.parents[2])
    return model


def curves(t: Table) -> dict[tuple[str, str], dict[str, list[tuple[float, float]]]]:
    """Metric-versus-kimg curves of training runs in ``t``: ``{(metric, protocol_hash): {run: [(kimg, value)]}}``
    from results stored with a ``kimg`` (the snapshots ``gan3d train`` measures)."""
    out: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for row in t.rows:
        for key, r in row.values.items():
            if r.kimg is not None and r.value == r.value:
                label = _run_of(row.model) + (f" [{row.weights_note}]" if row.weights_note else "")
                out.setdefault(key, {}).setdefault(label, []).append((float(r.kimg), r.value))
    return {k: {run: sorted(pts) for run, pts in v.items()} for k, v in out.items()}


_SORT_JS = """
document.querySelectorAll('table.lb th').forEach(function (th) {
  th.addEventListener('click', function () {
    var col = th.cellIndex;  // the column within this table (the page has one table per dataset)
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows), asc = th.dataset.asc !== '1';
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.dataset.asc = asc ? '1' : '0';
  });
});
"""


def fid_protocol(card: ModelCard) -> str:
    """In words, how a shipped model's training run measured the FID of its card's curve."""
    t = card.training
    fid = t.fid if t is not None else None
    if fid is None:
        return f"measured by its training run with its recipe's FID settings ({t.recipe if t else 'unknown recipe'})"
    network = fid.network or "unknown"
    network += "" if "inception" in network.lower() else " Inception"
    samples = f", {fid.num} samples" if fid.num else ""
    return f"{network}{samples}, against {fid.reference or 'the training data'} (recipe {t.recipe})"


def training_curves_html(cards: Sequence[ModelCard]) -> str:
    """One line chart "FID during training" of the models whose cards carry their run's FID-by-kimg curve,
    captioned with each model's own protocol ('' when no card has a curve)."""
    e = html.escape
    withcurve = [c for c in cards if c.training is not None and c.training.curve]
    if not withcurve:
        return ""
    chart = plots.line_chart([(c.name, list(c.training.curve)) for c in withcurve], "FID during training", "kimg")
    items = "".join(f"<li><b>{e(c.name)}</b>: {e(fid_protocol(c))}; {len(c.training.curve)} snapshots up to the "
                    f"shipped one at {c.training.kimg:g} kimg</li>" for c in withcurve)
    return ("<h2>Shipped models: FID during training</h2><div class='charts'>" + chart + "</div>"
            "<p class='caption'>Each run's own FID, measured while it trained, by kimg (thousands of real images "
            "shown). These are the training recipes' protocols, not the evaluation's FID column above: the "
            "Inception network, the sample counts or the reference images differ (the legend under each table says "
            "what a column used), so read a curve's shape, not its level against the tables.</p>"
            f"<ul class='caption'>{items}</ul>")


def to_html(tables: list[Table], images: list[str | os.PathLike] = (), cards: Sequence[ModelCard] = (),
            notes: Sequence[str] = ()) -> str:
    """A self-contained page (no network): sortable tables, bar charts, the training curves of ``cards``
    that carry one (shipped models: :func:`training_curves_html`) and the comparison grids. ``notes``: lines
    on how the numbers were measured (e.g. the demo's FID reference of each model), listed above the tables."""
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>gan3d leaderboard</title><style>",
             "body{font-family:sans-serif;margin:2em;color:#222} table.lb{border-collapse:collapse;margin:1em 0}"
             "table.published{border-collapse:collapse;margin:0.5em 0 1em;color:#555}th,td{border:1px solid #ccc;padding:4px 8px;font-size:13px} th{background:#eef} table.lb th{cursor:pointer}"
             "td.pub{color:#666;font-size:12px;max-width:28em} .random{color:#b00;font-weight:bold}"
             "table.legend{border-collapse:collapse;margin:0 0 1em;font-size:12px;color:#444}table.legend th,table.legend td{font-size:12px;padding:2px 6px}"
             "table.legend th{background:#f3f3f3} details pre{font-size:11px;margin:2px 0;white-space:pre-wrap}"
             "details.shared{font-size:12px;color:#555;margin-bottom:1em} .charts{display:flex;flex-wrap:wrap;gap:12px}"
             "svg.chart{background:#fff;border:1px solid #eee;max-width:100%;height:auto} img{max-width:100%}"
             ".caption{font-size:13px;color:#444;max-width:60em}",
             "</style></head><body><h1>gan3d leaderboard</h1>",
             "<p>Numbers in one column share a protocol (hash in brackets; the legend under each table lists what "
             "differs between its columns, the full protocol behind a click); click a header to sort; bars marked * "
             "and hatched red are random weights. Published numbers are quoted with their source and are never ranked with measured ones.</p>"]
    if notes:
        parts.append("<ul class='caption notes'>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    for t in tables:
        parts.append(f"<h2>{e(t.dataset)}</h2>")
        if not t.rows:
            parts.append("<p>No measured results yet.</p>")
        else:
            parts.append("<table class='lb'><thead><tr>")
            parts += [f"<th>{e(h)}</th>" for h in _header(t)]
            parts.append("</tr></thead><tbody>")
            for row in t.rows:
                cells = _cells(t, row)
                parts.append("<tr>")
                name = e(row.model) + (f" <span class='random'>[{e(row.weights_note)}]</span>"
                                       if row.weights_note else "")
                parts.append(f"<td data-v='{e(row.model)}'>{name}</td>")
                for c, text in zip(t.columns, cells[1:1 + len(t.columns)]):
                    r = row.values.get((c.metric, c.protocol_hash))
                    parts.append(f"<td data-v='{'' if r is None else r.value}'>{e(text)}</td>")
                parts += [f"<td>{e(x)}</td>" for x in cells[1 + len(t.columns):-1]]
                parts.append(f"<td class='pub'>{e(cells[-1])}</td></tr>")
            parts.append("</tbody></table>" + _legend_html(t))
            charts = [svg for svg in (_bar_chart(t, c) for c in t.columns) if svg]
            if charts:
                parts.append("<div class='charts'>" + "".join(charts) + "</div>")
            runs = curves(t)
            if runs:
                parts.append("<h3>Training curves</h3><div class='charts'>")
                cols = {(c.metric, c.protocol_hash): c for c in t.columns}
                for key, series in runs.items():
                    parts.append(plots.line_chart(sorted(series.items()), f"{cols[key].title} during training",
                                                  "kimg"))
                parts.append("</div>")
        if t.published:
            parts.append("<h3>Published (not ranked)</h3><table class='published'><thead><tr>")
            parts += [f"<th>{e(h)}</th>" for h in _PUB_HEADER]
            parts.append("</tr></thead><tbody>")
            for cells in _published_rows(t):
                parts.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in cells) + "</tr>")
            parts.append("</tbody></table>")
    parts.append(training_curves_html(cards))
    for img in images:
        p = Path(img)
        if p.is_file():
            data = base64.b64encode(p.read_bytes()).decode()
            parts.append(f"<h2>Comparison: {e(p.parent.name)}</h2><img alt='comparison grid' src='data:image/png;base64,{data}'>")
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "".join(parts)


def render(results: list[StoredResult], fmt: str = "md", images=(), cards: Sequence[ModelCard] = (),
           notes: Sequence[str] = ()) -> str:
    """``cards``: models whose training curves the HTML page charts, ``notes``: lines on how the numbers were
    measured, listed above its tables (the other formats leave both out)."""
    tables = build_tables(results)
    if fmt == "md":
        return to_markdown(tables)
    if fmt == "csv":
        return to_csv(tables)
    if fmt == "html":
        return to_html(tables, images, cards, notes)
    from .errors import InputError

    raise InputError(f"unknown leaderboard format {fmt!r}; use md, html or csv")


def write(results: list[StoredResult], out: str | os.PathLike, fmt: str | None = None, images=(),
          cards: Sequence[ModelCard] = (), notes: Sequence[str] = ()) -> Path:
    out = Path(out)
    fmt = fmt or {".md": "md", ".html": "html", ".htm": "html", ".csv": "csv"}.get(out.suffix.lower(), "md")
    return write_text_atomic(out, render(results, fmt, images, cards, notes))
