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
    y_label: str | None = None,
) -> Markup:
    """Counts per bin (lo, hi, count), coloured by `color(lo, hi)`, with dashed marker lines.

    Marker labels sit in rows of their own above the plot, each inside the plot's width: they
    can meet neither the tick labels (left of and under the plot) nor each other.
    """
    left, right, plot_h = 70, 20, 220
    plot_w = CHART_W - left - right
    lo, hi = bins[0][0], bins[-1][1]
    vmax, ticks = _nice_ticks(max(c for _, _, c in bins))

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    labels = _marker_rows(sorted(markers), x, left, CHART_W - right)
    rows = 1 + max((row for *_, row in labels), default=0)
    top = 50 + MARKER_ROW_H * (rows - 1)
    bottom = top + plot_h

    def y(v: float) -> float:
        return bottom - v / vmax * plot_h

    parts = [tag("g", *_y_ticks(ticks, y, left, CHART_W - right), class_="y-ticks")]
    for a, b, c in bins:
        if c:
            h = max(bottom - y(c), 1)
            tip = f"weight {a:.1f} to {b:.1f}: {c:,} pairs"
            parts.append(_bar(x(a) + 0.5, bottom - h, x(b) - x(a) - 1, h, color(a, b), tip))
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if (hi - lo) / s <= 12)
    first = math.ceil(lo / step) * step
    x_ticks = [(v, f"{v:g}") for v in range(first, math.floor(hi) + 1, step)]
    parts.append(tag("g", *_x_ticks(x_ticks, x, None, bottom), class_="x-ticks"))
    for mv, label, mcolor, anchor, row in labels:
        dashed = {"stroke": mcolor, "stroke_width": 2, "stroke_dasharray": "5 3"}
        ly = top - 12 - row * MARKER_ROW_H
        parts.append(
            tag(
                "g",
                tag("line", x1=x(mv), y1=ly - 10, x2=x(mv), y2=bottom, **dashed),
                tag(
                    "text",
                    label,
                    x=x(mv) + (-5 if anchor == "end" else 5),
                    y=ly,
                    text_anchor=anchor,
                    class_="marker-label",
                    fill=mcolor,
                    style=f"fill:{mcolor};font-weight:600",
                ),
                class_="marker",
            )
        )
    parts += _x_axis(left, CHART_W - right, bottom, x_label)
    parts.append(tag("g", *_y_axis(left, top, bottom, y_label), class_="y-axis"))
    return _chart(CHART_W, bottom + 44, title, parts)


MARKER_ROW_H = 16  # one row of marker labels above a histogram
LABEL_CHAR_W = 7.2  # a generous width of one character of a 12px label, for layout


def _marker_rows(
    markers: Sequence[tuple[float, str, str]],
    x: Callable[[float], float],
    left: float,
    right: float,
) -> list[tuple[float, str, str, str, int]]:
    """(value, label, colour, text anchor, row) per marker, sorted by value.

    The first of several markers is labelled left of its line and the others right of
    theirs; a label that would leave the plot's width is turned to the other side, and one
    that would still meet a label already placed goes up a row.
    """
    placed: list[tuple[float, float, int]] = []  # extent and row of each label so far
    out = []
    for i, (mv, label, mcolor) in enumerate(markers):
        width = LABEL_CHAR_W * len(label)
        anchor = "end" if i == 0 and len(markers) > 1 else "start"
        if anchor == "end" and x(mv) - 5 - width < left:
            anchor = "start"
        elif anchor == "start" and x(mv) + 5 + width > right:
            anchor = "end"
        a, b = (x(mv) - 5 - width, x(mv) - 5) if anchor == "end" else (x(mv) + 5, x(mv) + 5 + width)
        row = 0
        while any(r == row and a < pb + 8 and pa < b + 8 for pa, pb, r in placed):
            row += 1
        placed.append((a, b, row))
        out.append((mv, label, mcolor, anchor, row))
    return out


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


# --------------------------------------------------------------------------------------------
# Linkage model: levels and waterfalls

M_COLOR, U_COLOR = "#4e79a7", "#f28e2b"
FOR_COLOR, AGAINST_COLOR, NEUTRAL_COLOR = "#59a14f", "#e15759", "#9aa5b1"
TOTAL_COLOR = "#1d3557"


def _weight_scale(values: Iterable[float], most_ticks: int = 8) -> tuple[float, float, Ticks]:
    """A range of match weights that holds 0 and every value, and round ticks over it."""
    vals = [0.0, *values]
    lo, hi = math.floor(min(vals)), math.ceil(max(vals))
    hi = hi if hi > lo else lo + 1
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if (hi - lo) / s <= most_ticks)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return lo, hi, [(float(v), f"{v:+g}" if v else "0") for v in range(lo, hi + 1, step)]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _middle_short(text: str, limit: int) -> str:
    """Shortened in the middle, so both ends stay: 'Jaro-Winkler … of first_name >= 0.92'."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def _signed(w: float) -> str:
    return f"{w:+.2f}"


def level_weights(comparisons: Sequence[dict], title: str) -> Markup:
    """Each level of each comparison of the model, one row per level under its comparison:
    its m and u probabilities as two bars side by side (0-100%), then its match weight
    log2(m / u) as a bar from 0, green for a level that speaks for a match, red against.

    `comparisons`: {"name", "levels": [{"label", "m", "u", "weight", "tf"}]} (null levels left
    out, as the model table does).
    """
    rows = []
    for c in comparisons:
        rows.append((c, None))
        rows.extend((c, level) for level in c["levels"])
    width, label_w, gap = 1000, 380, 44
    a0, a1 = label_w + 10, label_w + 10 + 240  # m and u
    b0, b1 = a1 + gap, width - 60  # match weight
    head_h, level_h, top = 22, 20, 66
    bottom = top + sum(head_h if level is None else level_h for _, level in rows)
    weights = [lv["weight"] for c in comparisons for lv in c["levels"] if lv["weight"] is not None]
    lo, hi, ticks = _weight_scale(weights)

    def xa(v: float) -> float:
        return a0 + v * (a1 - a0)

    def xb(v: float) -> float:
        return b0 + (v - lo) / (hi - lo) * (b1 - b0)

    parts = [
        *_legend(["m: share of true matches", "u: share of other pairs"], _MU, a0, 38),
        tag("text", "m and u probability", x=a0, y=top - 8, class_="panel"),
        tag("text", "match weight log2(m / u)", x=b0, y=top - 8, class_="panel"),
        tag("g", *_x_ticks([(t, pct(t, 0)) for t in (0, 0.5, 1.0)], xa, top, bottom)),
        tag("g", *_x_ticks(ticks, xb, top, bottom)),
    ]
    y = top
    for comparison, level in rows:
        if level is None:
            parts.append(tag("text", comparison["name"], x=10, y=y + 16, class_="comparison-name"))
            y += head_h
            continue
        parts.append(_level_row(comparison["name"], level, y, level_h, xa, xb))
        y += level_h
    parts += [
        tag("line", class_="axis", x1=xb(0), y1=top, x2=xb(0), y2=bottom),
        *_y_axis(a0, top, bottom),
        tag("line", class_="axis", x1=a0, y1=bottom, x2=a1, y2=bottom),
        tag("line", class_="axis", x1=b0, y1=bottom, x2=b1, y2=bottom),
    ]
    return _chart(width, bottom + 30, title, parts)


_MU = {"m: share of true matches": M_COLOR, "u: share of other pairs": U_COLOR}


def _level_row(
    name: str,
    level: dict,
    y: float,
    h: float,
    xa: Callable[[float], float],
    xb: Callable[[float], float],
) -> Markup:
    label, m, u, w = level["label"], level["m"], level["u"], level["weight"]
    shown = _middle_short(label, 50) + (" (tf)" if level.get("tf") else "")
    parts = [tag("text", shown, tag("title", f"{name}: {label}"), x=22, y=y + 14)]
    for k, (p, fill, what) in enumerate(((m, M_COLOR, "m"), (u, U_COLOR, "u"))):
        if p is not None:
            tip = f"{name} · {label}: {what} = {pct(p, 4)}"
            parts.append(_bar(xa(0), y + 3 + k * 7, max(p * (xa(1) - xa(0)), 1), 6, fill, tip))
    if m is None and u is None:
        parts.append(tag("text", "not estimated", x=xa(0) + 6, y=y + 14, class_="muted"))
    if w is not None:
        x0, x1 = sorted((xb(0), xb(w)))
        fill = FOR_COLOR if w > 0 else AGAINST_COLOR
        tip = f"{name} · {label}: match weight {_signed(w)}"
        parts.append(_bar(x0, y + 4, max(x1 - x0, 1), h - 8, fill, tip, class_="weight"))
        parts.append(
            tag(
                "text",
                f"{w:+.1f}",
                x=xb(w) + (4 if w >= 0 else -4),
                y=y + 14,
                text_anchor="start" if w >= 0 else "end",
                class_="value",
            )
        )
    return tag(
        "g",
        *parts,
        class_="level",
        data_comparison=name,
        data_level=label,
        data_weight="" if w is None else f"{w:.6f}",
    )


def waterfall(fall: dict, *, title: str, match_weight: float | None = None) -> Markup:
    """How a pair's match weight adds up: the prior, then each comparison's weight from where
    the running total stands, ending at the pair's match weight and probability.

    `fall` is `whiteglove.reports.examples.waterfall`'s result. Each step carries its weight
    (data-weight), so what is drawn can be checked against the total (data-match-weight).
    """
    steps = fall["steps"]
    label_w, value_w, row_h = 110, 116, 22
    width = 480
    left, right = label_w, width - value_w
    top = 34
    total_y = top + row_h * (len(steps) + 2)  # one row of space above the total
    bottom = total_y + row_h + 20  # the total's probability on a line of its own
    ends = [fall["prior"], *(s["end"] for s in steps), fall["match_weight"]]
    lo, hi, ticks = _weight_scale(ends, most_ticks=7)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    parts = [tag("g", *_x_ticks(ticks, x, top, bottom))]
    lam = fall["prior_probability"]
    rows = [
        (
            "prior",
            "prior",
            0.0,
            fall["prior"],
            fall["prior"],
            f"prior: 1 pair of records in {1 / lam:,.0f} is a match" if lam > 0 else "prior",
        )
    ]
    for s in steps:
        tip = f"{s['name']}: {s['label']}, {_signed(s['weight'])}" + (
            f" (of which term frequency {_signed(s['tf'])})" if s["tf"] else ""
        )
        rows.append(("comparison", s["name"], s["start"], s["end"], s["weight"], tip))
    y = top
    previous_end = None
    for kind, label, start, end, weight, tip in rows:
        x0, x1 = sorted((x(start), x(end)))
        fill = (
            NEUTRAL_COLOR
            if kind == "prior" or abs(weight) < 1e-9
            else (FOR_COLOR if weight > 0 else AGAINST_COLOR)
        )
        if previous_end is not None:  # the running total carried down from the step above
            parts.append(
                tag(
                    "line",
                    x1=x(previous_end),
                    y1=y - row_h + 17,
                    x2=x(previous_end),
                    y2=y + 4,
                    stroke="#9aa5b1",
                    stroke_dasharray="2 2",
                )
            )
        parts.append(
            tag(
                "g",
                tag(
                    "text",
                    _short(label, 15),
                    tag("title", tip or label),
                    x=left - 8,
                    y=y + 15,
                    text_anchor="end",
                ),
                _bar(x0, y + 4, max(x1 - x0, 1.5), row_h - 8, fill, tip or label),
                tag("text", _signed(weight), x=right + 8, y=y + 15, class_="value"),
                class_="step",
                data_kind=kind,
                data_weight=f"{weight:.6f}",
            )
        )
        previous_end = end
        y += row_h
    total, p = fall["match_weight"], fall["match_probability"]
    x0, x1 = sorted((x(0), x(total)))
    parts.append(
        tag(
            "g",
            tag(
                "text",
                "match weight",
                x=left - 8,
                y=total_y + 15,
                text_anchor="end",
                style="font-weight:600",
            ),
            _bar(
                x0,
                total_y + 3,
                max(x1 - x0, 1.5),
                row_h - 6,
                TOTAL_COLOR,
                f"match weight {_signed(total)}, probability {p:.6g}",
            ),
            tag(
                "text", f"= {_signed(total)}", x=right + 8, y=total_y + 15, style="font-weight:600"
            ),
            tag("text", f"p = {probability_text(p)}", x=right + 8, y=total_y + 31, class_="value"),
            class_="total",
            data_weight=f"{total:.6f}",
            data_probability=f"{p:.9g}",
        )
    )
    parts += [
        tag("line", class_="axis", x1=x(0), y1=top, x2=x(0), y2=bottom),
        *_x_axis(left, right, bottom, "match weight (log2 odds)"),
    ]
    return tag(
        "svg",
        tag("title", title),
        *parts,
        class_="chart waterfall",
        viewBox=f"0 0 {width} {_number(float(bottom + 44))}",
        style=f"max-width:{width}px",
        role="img",
        aria_label=title,
        data_match_weight=None if match_weight is None else f"{match_weight:.6f}",
    )


def probability_text(p: float) -> str:
    """A match probability as read: 0.5, 0.9973, 1 - 2.3e-09."""
    if p > 0.9999:
        return f"1 − {1 - p:.2g}" if p < 1 else "1"
    return f"{p:.4g}"
