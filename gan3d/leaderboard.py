"""The leaderboard: measured results from the store as Markdown, CSV or a self-contained HTML page.

Numbers are only put in one column when their protocols match: a column is a (metric, protocol hash)
pair, so the same metric measured under two protocols becomes two columns, with a legend. Published
numbers (``gan3d/data/published.json``, each with its source and protocol) get their own labelled
column and never enter the measured ranking.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    """One table per dataset; the newest result wins per (model, metric, protocol).

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
        columns = sorted(cols.values(), key=lambda c: (order.index(c.metric) if c.metric in order else 99,
                                                       c.metric, c.protocol_hash))
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
            out += [""] + [f"- {line}" for line in _legend(t)] + [""]
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


def _bar_chart(t: Table, c: Column) -> str | None:
    """A base64 PNG bar chart of one column (None without matplotlib or values)."""
    vals = [(row.model + (" *" if row.weights_note else ""), row.values[(c.metric, c.protocol_hash)].value)
            for row in t.rows if (c.metric, c.protocol_hash) in row.values]
    vals = [v for v in vals if v[1] == v[1]]  # undefined values (no face found) have no bar
    if not vals:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5, 0.4 * len(vals) + 1.0), dpi=90)
    ax.barh([v[0] for v in vals][::-1], [v[1] for v in vals][::-1], color="#4a78b5")
    ax.set_xlabel(c.title + (" (lower is better)" if c.lower_is_better else " (higher is better)"))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


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


def to_html(tables: list[Table], images: list[str | os.PathLike] = ()) -> str:
    """A self-contained page (no network): sortable tables, bar charts and the comparison grids."""
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>gan3d leaderboard</title><style>",
             "body{font-family:sans-serif;margin:2em;color:#222} table.lb{border-collapse:collapse;margin:1em 0}"
             "table.published{border-collapse:collapse;margin:0.5em 0 1em;color:#555}th,td{border:1px solid #ccc;padding:4px 8px;font-size:13px} th{background:#eef} table.lb th{cursor:pointer}"
             "td.pub{color:#666;font-size:12px;max-width:28em} .random{color:#b00;font-weight:bold}"
             ".legend{font-size:11px;color:#555;font-family:monospace} img{max-width:100%}",
             "</style></head><body><h1>gan3d leaderboard</h1>",
             "<p>Numbers in one column share a protocol (hash in brackets, legend under each table); click a header "
             "to sort. Published numbers are quoted with their source and are never ranked with measured ones.</p>"]
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
            parts.append("</tbody></table><div class='legend'>" + "<br>".join(e(x) for x in _legend(t)) + "</div>")
            for c in t.columns:
                png = _bar_chart(t, c)
                if png:
                    parts.append(f"<img alt='{e(c.title)}' src='data:image/png;base64,{png}'>")
        if t.published:
            parts.append("<h3>Published (not ranked)</h3><table class='published'><thead><tr>")
            parts += [f"<th>{e(h)}</th>" for h in _PUB_HEADER]
            parts.append("</tr></thead><tbody>")
            for cells in _published_rows(t):
                parts.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in cells) + "</tr>")
            parts.append("</tbody></table>")
    for img in images:
        p = Path(img)
        if p.is_file():
            data = base64.b64encode(p.read_bytes()).decode()
            parts.append(f"<h2>Comparison: {e(p.parent.name)}</h2><img alt='comparison grid' src='data:image/png;base64,{data}'>")
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "".join(parts)


def render(results: list[StoredResult], fmt: str = "md", images=()) -> str:
    tables = build_tables(results)
    if fmt == "md":
        return to_markdown(tables)
    if fmt == "csv":
        return to_csv(tables)
    if fmt == "html":
        return to_html(tables, images)
    from .errors import InputError

    raise InputError(f"unknown leaderboard format {fmt!r}; use md, html or csv")


def write(results: list[StoredResult], out: str | os.PathLike, fmt: str | None = None, images=()) -> Path:
    out = Path(out)
    fmt = fmt or {".md": "md", ".html": "html", ".htm": "html", ".csv": "csv"}.get(out.suffix.lower(), "md")
    return write_text_atomic(out, render(results, fmt, images))
