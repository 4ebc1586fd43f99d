"""Small inline SVG charts for self-contained HTML pages (no plotting library, no network).

Text goes through :func:`html.escape`, numbers are formatted here; the charts scale with the page
(``viewBox``) and carry a ``<title>`` per mark, so a pointer over a bar or point shows its exact value.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Sequence

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def _num(v: float) -> str:
    return f"{v:.4g}"


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About ``n`` round tick values spanning ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, *, highlight: Sequence[bool] = (),
              width: int = 520) -> str:
    """Horizontal bars, one per label, with the value at the bar's end; ``highlight[i]`` draws bar ``i``
    hatched in red (e.g. random weights). Non-finite values get no bar. Returns ``<svg>`` markup."""
    e = html.escape
    rows = [(str(lbl), float(v), bool(highlight[i]) if i < len(highlight) else False)
            for i, (lbl, v) in enumerate(zip(labels, values)) if math.isfinite(float(v))]
    if not rows:
        return ""
    left = min(260, 12 + 7 * max(len(r[0]) for r in rows))
    fit = int((left - 10) / 6.2)  # characters that fit left of the bars; longer labels keep their end
    bar_h, top = 20, 26
    height = top + bar_h * len(rows) + 26
    lo = min(0.0, min(v for _, v, _ in rows))
    hi = max(0.0, max(v for _, v, _ in rows)) or 1.0
    plot_w = width - left - 70
    x = lambda v: left + (v - lo) / (hi - lo) * plot_w  # noqa: E731
    # pattern ids are global to the page: one per chart's content
    hatch = "hatch-" + hashlib.sha256(repr((title, rows)).encode()).hexdigest()[:10]
    out = [f"<svg class='chart bar' xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
           f"width='{width}' height='{height}' role='img' aria-label='{e(title)}'>",
           f"<defs><pattern id='{hatch}' width='6' height='6' patternUnits='userSpaceOnUse' patternTransform='rotate(45)'>"
           "<rect width='3' height='6' fill='#d9534f'/></pattern></defs>",
           f"<text x='{left}' y='16' font-size='13' font-weight='bold'>{e(title)}</text>"]
    for t in _ticks(lo, hi):
        out.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{top - 4}' y2='{height - 22}' stroke='#ddd'/>"
                   f"<text x='{x(t):.1f}' y='{height - 8}' font-size='10' text-anchor='middle' fill='#666'>{_num(t)}</text>")
    for i, (lbl, v, hl) in enumerate(rows):
        y = top + i * bar_h
        x0, x1 = sorted((x(0.0), x(v)))
        fill = f"url(#{hatch})" if hl else _PALETTE[0]
        shown = lbl if len(lbl) <= fit else "…" + lbl[-(fit - 1):]
        out.append(f"<text x='{left - 6}' y='{y + 14}' font-size='11' text-anchor='end'>{e(shown)}"
                   f"<title>{e(lbl)}</title></text>"
                   f"<rect class='bar' x='{x0:.1f}' y='{y + 3}' width='{max(x1 - x0, 1):.1f}' height='{bar_h - 6}' "
                   f"fill='{fill}' stroke='{'#d9534f' if hl else 'none'}'><title>{e(lbl)}: {_num(v)}</title></rect>"
                   f"<text x='{x1 + 4:.1f}' y='{y + 14}' font-size='11' fill='#333'>{_num(v)}</text>")
    out.append("</svg>")
    return "".join(out)


def line_chart(series: Sequence[tuple[str, Sequence[tuple[float, float]]]], title: str, xlabel: str,
               width: int = 520, height: int = 240) -> str:
    """One polyline with point markers per ``(name, [(x, y), ...])`` series, with axes and a legend.

    Non-finite points are left out; series without points are skipped. Returns ``<svg>`` markup.
    """
    e = html.escape
    series = [(n, sorted((float(a), float(b)) for a, b in pts if math.isfinite(a) and math.isfinite(b)))
              for n, pts in series]
    series = [(n, pts) for n, pts in series if pts]
    if not series:
        return ""
    xs = [p[0] for _, pts in series for p in pts]
    ys = [p[1] for _, pts in series for p in pts]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - abs(y_lo) * 0.1 - 0.5, y_hi + abs(y_hi) * 0.1 + 0.5
    left, right, top, bottom = 56, 16, 26, 42 + 14 * len(series)
    pw, ph = width - left - right, height - top - bottom
    X = lambda v: left + (v - x_lo) / (x_hi - x_lo) * pw  # noqa: E731
    Y = lambda v: top + (1 - (v - y_lo) / (y_hi - y_lo)) * ph  # noqa: E731
    out = [f"<svg class='chart curve' xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
           f"width='{width}' height='{height}' role='img' aria-label='{e(title)}'>",
           f"<text x='{left}' y='16' font-size='13' font-weight='bold'>{e(title)}</text>",
           f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>"]
    for t in _ticks(x_lo, x_hi):
        out.append(f"<line x1='{X(t):.1f}' x2='{X(t):.1f}' y1='{top}' y2='{top + ph}' stroke='#eee'/>"
                   f"<text x='{X(t):.1f}' y='{top + ph + 14}' font-size='10' text-anchor='middle' fill='#666'>{_num(t)}</text>")
    for t in _ticks(y_lo, y_hi):
        out.append(f"<line x1='{left}' x2='{left + pw}' y1='{Y(t):.1f}' y2='{Y(t):.1f}' stroke='#eee'/>"
                   f"<text x='{left - 4}' y='{Y(t) + 3:.1f}' font-size='10' text-anchor='end' fill='#666'>{_num(t)}</text>")
    out.append(f"<text x='{left + pw / 2:.1f}' y='{top + ph + 30}' font-size='11' text-anchor='middle'>{e(xlabel)}</text>")
    for i, (name, pts) in enumerate(series):
        c = _PALETTE[i % len(_PALETTE)]
        path = " ".join(f"{X(a):.1f},{Y(b):.1f}" for a, b in pts)
        out.append(f"<polyline class='series' points='{path}' fill='none' stroke='{c}' stroke-width='2'/>")
        out += [f"<circle cx='{X(a):.1f}' cy='{Y(b):.1f}' r='3' fill='{c}'><title>{e(name)}: {_num(b)} at "
                f"{_num(a)} {e(xlabel)}</title></circle>" for a, b in pts]
        ly = top + ph + 44 + 14 * i
        out.append(f"<rect x='{left}' y='{ly - 8}' width='10' height='3' fill='{c}'/>"
                   f"<text x='{left + 14}' y='{ly - 4}' font-size='11'>{e(name)}</text>")
    out.append("</svg>")
    return "".join(out)
