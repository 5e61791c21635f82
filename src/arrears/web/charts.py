"""Small server-side SVG charts (no JavaScript, no CDN): a line chart and a bar chart.

Every label is escaped; the output is safe to embed in a page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart"]

_W, _H = 640, 220
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 48, 12, 14, 36
_COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563")


def _nice_max(value: float) -> float:
    """The top of the value axis: four equal steps, each a whole number from 1 up (so the grid
    labels are exact: 15, 30, 45, 60 rather than 12.5 or 37.5); below 1, tenths."""
    if value <= 0:
        return 1.0
    if value < 1:
        return math.ceil(value * 10) / 10 if value > 0.4 else 0.4
    magnitude = 1
    while True:
        for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8):
            n = step * magnitude
            if n == int(n) and 4 * n >= value:
                return float(4 * n)
        magnitude *= 10


def _frame(
    title: str, label: str, body: list[str], y_max: float, fmt: Callable[[float], str]
) -> Markup:
    plot_h = _H - _PAD_T - _PAD_B
    grid = []
    for k in range(5):
        v = y_max * k / 4
        y = _PAD_T + plot_h - plot_h * k / 4
        grid.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(v))}</text>'
        )
    return Markup(  # noqa: S704 - every interpolated label is escaped above
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(grid)
        + "".join(body)
        + "</svg>"
    )


def line_chart(
    points: Sequence[tuple[str, float]],
    title: str,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    step: bool = True,
) -> Markup:
    """One series over time; labels on the x axis are thinned to about eight."""
    if not points:
        return _frame(title, title, [], 1.0, fmt)
    y_max = _nice_max(max(v for _, v in points))
    plot_w, plot_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    n = len(points)

    def x(i: int) -> float:
        return _PAD_L + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _PAD_T + plot_h - plot_h * v / y_max

    path = []
    for i, (_, v) in enumerate(points):
        if i == 0:
            path.append(f"M{x(i):.1f},{y(v):.1f}")
        elif step:
            path.append(f"H{x(i):.1f}V{y(v):.1f}")
        else:
            path.append(f"L{x(i):.1f},{y(v):.1f}")
    every = max(1, n // 8)
    ticks = [
        f'<text x="{x(i):.1f}" y="{_H - _PAD_B + 16}" text-anchor="middle">{escape(label)}</text>'
        for i, (label, _) in enumerate(points)
        if i % every == 0
    ]
    body = [f'<path d="{"".join(path)}" class="series" stroke="{_COLOURS[0]}"/>', *ticks]
    return _frame(title, title, body, y_max, fmt)


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    title: str,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> Markup:
    """Grouped bars: one group per category, one bar per series, with a legend."""
    values = [v for _, vs in series for v in vs]
    y_max = _nice_max(max(values, default=0.0))
    plot_w, plot_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    groups = max(1, len(categories))
    group_w = plot_w / groups
    bar_w = group_w * 0.8 / max(1, len(series))
    body = []
    for g, cat in enumerate(categories):
        gx = _PAD_L + g * group_w + group_w * 0.1
        for s, (name, vs) in enumerate(series):
            v = vs[g] if g < len(vs) else 0.0
            h = plot_h * v / y_max
            body.append(
                f'<rect x="{gx + s * bar_w:.1f}" y="{_PAD_T + plot_h - h:.1f}" '
                f'width="{bar_w * 0.92:.1f}" height="{h:.1f}" fill="{_COLOURS[s % 8]}">'
                f"<title>{escape(name)} · {escape(cat)}: {escape(fmt(v))}</title></rect>"
            )
        body.append(
            f'<text x="{gx + group_w * 0.4:.1f}" y="{_H - _PAD_B + 16}" '
            f'text-anchor="middle">{escape(cat)}</text>'
        )
    if len(series) > 1:
        for s, (name, _) in enumerate(series):
            lx = _PAD_L + s * 110
            body.append(
                f'<rect x="{lx}" y="{_H - 12}" width="10" height="10" fill="{_COLOURS[s % 8]}"/>'
                f'<text x="{lx + 14}" y="{_H - 3}">{escape(name)}</text>'
            )
    return _frame(title, title, body, y_max, fmt)
