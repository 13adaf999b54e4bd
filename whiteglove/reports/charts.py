"""Inline SVG charts and the colour scales of the report tables.

Hand-written SVG, a few kinds of chart: a charting library would add megabytes per file
(plotly) or a native renderer (vega) for pictures this simple. Each chart is markup built by
`tag`, which escapes every text and attribute it is given, so a source, field or reason name
can hold anything; the page marks the result safe as it is. The frame, legend, axes, ticks
and grid lines are drawn by the helpers below, shared by every chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

from markupsafe import Markup

from whiteglove.reports.formats import pct

CHART_W = 880
TICK_LABEL_DY = 17  # from the x axis down to its tick labels
AXIS_TITLE_DY = 36  # from the x axis down to its title
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#b07aa1",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
# Completeness colour scale: red (empty) through amber to green (complete).
SCALE = [
    (0.0, (232, 119, 107)),
    (0.5, (246, 178, 107)),
    (0.8, (251, 227, 146)),
    (0.95, (196, 228, 160)),
    (1.0, (142, 206, 152)),
]
BLUES = ((247, 250, 253), (107, 160, 212))

Ticks = list[tuple[float, str]]  # position on the axis, label


# --------------------------------------------------------------------------------------------
# Colours


def palette(names: Sequence[str]) -> dict[str, str]:
    """A colour per name (source), the same for a name in every chart and table of a page."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def heat(x: float) -> str:
    """The completeness scale's colour for a share (0-1)."""
    x = min(max(x, 0.0), 1.0)
    (a, ca), (b, cb) = next(pair for pair in pairwise(SCALE) if x <= pair[1][0])
    return _mix(ca, cb, (x - a) / (b - a))


def heat_gradient() -> str:
    """The completeness scale as a CSS gradient, for its legend."""
    stops = ",".join(f"{heat(p)} {p * 100:.0f}%" for p, _ in SCALE)
    return f"linear-gradient(90deg,{stops})"


def blue(x: float) -> str:
    """A light-to-mid blue for a share (0-1): the overlap matrix."""
    return _mix(*BLUES, min(max(x, 0.0), 1.0))


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> str:
    r, g, bl = (round(a[i] + (b[i] - a[i]) * t) for i in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


# --------------------------------------------------------------------------------------------
# Markup


def tag(name: str, *children: str | Markup, **attrs: object) -> Markup:
    """An SVG element; text children and attribute values are escaped, Markup children kept.

    Attribute names are written in Python style: class_ -> class, text_anchor -> text-anchor.
    Floats are written with one decimal at most, as coordinates need no more.
    """
    written = Markup("").join(
        Markup(' {}="{}"').format(key.rstrip("_").replace("_", "-"), _number(value))
        for key, value in attrs.items()
        if value is not None
    )
    if not children:
        return Markup("<{}{}/>").format(name, written)
    return Markup("<{0}{1}>{2}</{0}>").format(name, written, Markup("").join(children))


def _number(value: object) -> object:
    return f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else value


def _chart(width: float, height: float, title: str, parts: Iterable[Markup]) -> Markup:
    return tag(
        "svg",
        tag("title", title),
        tag("text", title, class_="title", x=0, y=16),
        *parts,
        class_="chart",
        viewBox=f"0 0 {width} {_number(float(height))}",
        style=f"max-width:{width}px",
        role="img",
        aria_label=title,
    )


def _bar(x: float, y: float, width: float, height: float, fill: str, tip: str, **attrs) -> Markup:
    return tag("rect", tag("title", tip), x=x, y=y, width=width, height=height, fill=fill, **attrs)


def _legend(series: Sequence[str], colors: dict[str, str], x: float, y: float) -> Iterable[Markup]:
    for s in series:
        yield tag("rect", x=x, y=y - 9, width=10, height=10, rx=2, fill=colors[s])
        yield tag("text", s, x=x + 15, y=y)
        x += 30 + 7.2 * len(s)


# --------------------------------------------------------------------------------------------
# Axes, ticks and grid lines


def _nice_ticks(value: float) -> tuple[float, Ticks]:
    """An axis maximum >= value and round ticks up to it (steps of 1, 2, 2.5 or 5 x 10^k)."""
    if value <= 0:
        top, step = 1.0, 0.25
    else:
        raw = value / 4
        mag = 10 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
        top = math.ceil(value / step) * step
    return top, [(i * step, _tick_label(i * step)) for i in range(round(top / step) + 1)]


def _tick_label(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if v >= 10_000:
        return f"{v / 1000:g}k"
    return f"{v:,.0f}" if v == int(v) else f"{v:g}"


def _x_ticks(
    ticks: Ticks, x: Callable[[float], float], top: float | None, bottom: float
) -> Iterable[Markup]:
    """Labels under the plot; a grid line up to `top` at each, or a short mark if top is None."""
    for v, label in ticks:
        if top is None:
            yield tag("line", class_="axis", x1=x(v), y1=bottom, x2=x(v), y2=bottom + 4)
        else:
            yield tag("line", class_="grid", x1=x(v), y1=top, x2=x(v), y2=bottom)
        yield tag("text", label, x=x(v), y=bottom + TICK_LABEL_DY, text_anchor="middle")


def _y_ticks(
    ticks: Ticks, y: Callable[[float], float], left: float, right: float
) -> Iterable[Markup]:
    """A horizontal grid line across the plot at each tick, labelled left of the plot."""
    for v, label in ticks:
        yield tag("line", class_="grid", x1=left, y1=y(v), x2=right, y2=y(v))
        yield tag("text", label, x=left - 8, y=y(v) + 4, text_anchor="end")


def _x_axis(left: float, right: float, y: float, title: str | None = None) -> Iterable[Markup]:
    yield tag("line", class_="axis", x1=left, y1=y, x2=right, y2=y)
    if title:
        yield tag("text", title, x=(left + right) / 2, y=y + AXIS_TITLE_DY, text_anchor="middle")


def _y_axis(x: float, top: float, bottom: float, title: str | None = None) -> Iterable[Markup]:
    yield tag("line", class_="axis", x1=x, y1=top, x2=x, y2=bottom)
    if title:
        turn = f"translate(14 {_number(float((top + bottom) / 2))}) rotate(-90)"
        yield tag("text", title, transform=turn, text_anchor="middle")


# --------------------------------------------------------------------------------------------
# Charts


def grouped_bars(
    rows: Sequence[str],
    series: Sequence[str],
    values: dict[tuple[str, str], float],
    colors: dict[str, str],
    title: str,
) -> Markup:
    """One group of thin horizontal bars per row (field), one bar per series (source), 0-100%."""
    n = max(len(series), 1)
    bar_h = max(3.0, min(9.0, 24 / n))
    row_h = n * (bar_h + 1) + 10
    left, right, top = 170, 60, 52
    plot_w = CHART_W - left - right
    bottom = top + row_h * len(rows)

    def x(v: float) -> float:
        return left + v * plot_w

    parts = [*_legend(series, colors, left, 38)]
    parts += [
        tag("rect", x=10, y=top + i * row_h, width=CHART_W - 10, height=row_h, fill="#f7f9fb")
        for i in range(0, len(rows), 2)
    ]
    parts += _x_ticks([(t, f"{t * 100:.0f}%") for t in (0, 0.25, 0.5, 0.75, 1.0)], x, top, bottom)
    for i, row in enumerate(rows):
        y0 = top + i * row_h
        parts.append(tag("text", row, x=left - 12, y=y0 + row_h / 2 + 4, text_anchor="end"))
        for k, s in enumerate(series):
            v = values.get((row, s))
            if v is not None:
                y = y0 + 5 + k * (bar_h + 1)
                tip = f"{s} · {row}: {pct(v)}"
                parts.append(_bar(left, y, max(v * plot_w, 1.5), bar_h, colors[s], tip))
    parts += _y_axis(left, top, bottom)
    return _chart(CHART_W, bottom + 30, title, parts)


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[str],
    values: dict[tuple[str, str], int],
    colors: dict[str, str],
    title: str,
    legend: bool = True,
) -> Markup:
    """A horizontal bar per label (reason, combination), stacked by series, with its total."""
    if not labels:
        return Markup("")
    left = min(340, max(120, 7 * max(len(lb) for lb in labels) + 16))
    right, bar_h, gap = 70, 18, 8
    legend = legend and len(series) > 1
    top = 52 if legend else 32
    plot_w = CHART_W - left - right
    totals = [sum(values.get((lb, s), 0) for s in series) for lb in labels]
    vmax, ticks = _nice_ticks(max(totals))
    bottom = top + (bar_h + gap) * len(labels)

    def x(v: float) -> float:
        return left + v / vmax * plot_w

    parts = [*_legend(series, colors, left, 38)] if legend else []
    parts += _x_ticks(ticks, x, top - 4, bottom)
    for i, (lb, total) in enumerate(zip(labels, totals, strict=True)):
        y = top + i * (bar_h + gap)
        shown = lb if len(lb) <= 48 else lb[:47] + "…"
        mid = y + bar_h / 2 + 4
        parts.append(tag("text", shown, tag("title", lb), x=left - 10, y=mid, text_anchor="end"))
        cx = left
        for s in series:
            v = values.get((lb, s), 0)
            if v:
                w = v / vmax * plot_w
                parts.append(_bar(cx, y, max(w, 1), bar_h, colors[s], f"{lb} · {s}: {v:,}"))
                cx += w
        parts.append(tag("text", f"{total:,}", x=cx + 6, y=mid))
    parts += _y_axis(left, top - 4, bottom)
    return _chart(CHART_W, bottom + 30, title, parts)


def columns(
    labels: Sequence[str], values: Sequence[int], *, color: str, title: str, x_label: str
) -> Markup:
    """A vertical bar per label (a range of cluster sizes), its count above it."""
    left, right, top, plot_h = 56, 20, 34, 200
    plot_w = CHART_W - left - right
    vmax, ticks = _nice_ticks(max(values, default=0))
    slot = plot_w / max(len(labels), 1)
    bw = min(slot * 0.7, 80)
    bottom = top + plot_h

    def y(v: float) -> float:
        return bottom - v / vmax * plot_h

    parts = [*_y_ticks(ticks, y, left, CHART_W - right)]
    for i, (lb, v) in enumerate(zip(labels, values, strict=True)):
        cx = left + slot * i + slot / 2
        parts.append(_bar(cx - bw / 2, y(v), bw, bottom - y(v), color, f"{lb}: {v:,}", rx=2))
        parts.append(tag("text", lb, x=cx, y=bottom + TICK_LABEL_DY, text_anchor="middle"))
        if v:
            parts.append(tag("text", f"{v:,}", x=cx, y=y(v) - 5, text_anchor="middle"))
    parts += _x_axis(left, CHART_W - right, bottom, x_label)
    return _chart(CHART_W, bottom + 44, title, parts)


def histogram(
    bins: Sequence[tuple[float, float, int]],
    *,
    markers: Sequence[tuple[float, str, str]],
    color: Callable[[float, float], str],
    title: str,
    x_label: str,
) -> Markup:
    """Counts per bin (lo, hi, count), coloured by `color(lo, hi)`, with dashed marker lines."""
    left, right, top, plot_h = 56, 20, 40, 220
    plot_w = CHART_W - left - right
    lo, hi = bins[0][0], bins[-1][1]
    vmax, ticks = _nice_ticks(max(c for _, _, c in bins))
    bottom = top + plot_h

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    def y(v: float) -> float:
        return bottom - v / vmax * plot_h

    parts = [*_y_ticks(ticks, y, left, CHART_W - right)]
    for a, b, c in bins:
        if c:
            h = max(bottom - y(c), 1)
            tip = f"weight {a:.1f} to {b:.1f}: {c:,} pairs"
            parts.append(_bar(x(a) + 0.5, bottom - h, x(b) - x(a) - 1, h, color(a, b), tip))
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if (hi - lo) / s <= 12)
    first = math.ceil(lo / step) * step
    parts += _x_ticks(
        [(v, f"{v:g}") for v in range(first, math.floor(hi) + 1, step)], x, None, bottom
    )
    for i, (mv, label, mcolor) in enumerate(sorted(markers)):
        anchor = "end" if i == 0 and len(markers) > 1 else "start"
        dx = -5 if anchor == "end" else 5
        dashed = {"stroke": mcolor, "stroke_width": 2, "stroke_dasharray": "5 3"}
        parts.append(tag("line", x1=x(mv), y1=top - 6, x2=x(mv), y2=bottom, **dashed))
        parts.append(
            tag(
                "text",
                label,
                x=x(mv) + dx,
                y=top + 6,
                text_anchor=anchor,
                fill=mcolor,
                style=f"fill:{mcolor};font-weight:600",
            )
        )
    parts += _x_axis(left, CHART_W - right, bottom, x_label)
    return _chart(CHART_W, bottom + 44, title, parts)


def pr_curve(points: Sequence[tuple[float, float, float]], match_threshold: float) -> Markup:
    """Precision against recall, a point per threshold (recall, precision, threshold)."""
    size, left, top = 360, 56, 30
    bottom = top + size

    # Zoom each axis to the data (in steps of 0.1) so a curve hugging 1.0 stays readable.
    x0 = min([0.9, *(math.floor(r * 10) / 10 for r, _, _ in points)])
    y0 = min([0.9, *(math.floor(p * 10) / 10 for _, p, _ in points)])

    def x(v: float) -> float:
        return left + (v - x0) / (1 - x0) * size

    def y(v: float) -> float:
        return bottom - (v - y0) / (1 - y0) * size

    def quarters(start: float) -> Ticks:
        return [(t, f"{t:.3g}") for t in (start + (1 - start) * i / 4 for i in range(5))]

    parts = [*_x_ticks(quarters(x0), x, top, bottom), *_y_ticks(quarters(y0), y, left, left + size)]
    if points:
        path = " ".join(f"{_number(x(r))},{_number(y(p))}" for r, p, _ in points)
        parts.append(tag("polyline", points=path, fill="none", stroke="#4e79a7", stroke_width=2.5))
        closest = min(points, key=lambda pt: abs(pt[2] - match_threshold))
        for r, p, t in points:
            hit = (r, p, t) == closest
            parts.append(
                tag(
                    "circle",
                    tag("title", f"threshold {t:g}: precision {p:.3f}, recall {r:.3f}"),
                    cx=x(r),
                    cy=y(p),
                    r=6 if hit else 3.5,
                    fill="#e15759" if hit else "#4e79a7",
                    stroke="#fff",
                    stroke_width=1,
                )
            )
        r, p, t = closest
        side = left + size + 16
        parts += [
            tag("text", f"At threshold {t:g}", x=side, y=top + 20, style="font-weight:600"),
            tag("text", f"precision {p:.3f}", x=side, y=top + 40),
            tag("text", f"recall {r:.3f}", x=side, y=top + 58),
            tag("circle", cx=side + 6, cy=top + 78, r=6, fill="#e15759"),
            tag("text", "match threshold", x=side + 18, y=top + 82),
        ]
    parts += [
        *_x_axis(left, left + size, bottom, "recall"),
        *_y_axis(left, top, bottom, "precision"),
    ]
    return _chart(left + size + 200, bottom + 46, "Precision against recall, by threshold", parts)
