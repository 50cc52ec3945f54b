"""Server-side SVG plots (the same SVG goes into the result page, the printable report and the PDF).

* :func:`timeline_svg` — specimens by collection date (x) and site (rows), coloured and shaped by HER2 status,
  each labelled with its id, IHC score and ISH result (colour is never the only carrier of status).
* :func:`ish_svg` — HER2 signals per cell against the HER2/CEP17 ratio with the scoring system's zones. The zone
  boundaries are the knowledge base's thresholds and each zone is named by assessing a point inside it with the
  engine itself, so the plot cannot drift from the rules. Systems that score ISH by the share of amplified cells
  (HERACLES) get a bar per specimen against that cut-off.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

STATUS_STYLE = {
    # status: (fill colour, marker shape, short text)
    "positive": ("#b2182b", "circle", "POS"),
    "negative": ("#2166ac", "square", "NEG"),
    "equivocal": ("#e08214", "diamond", "EQV"),
    "indeterminate": ("#6b6b6b", "triangle", "IND"),
}
ZONE_FILL = {"positive": "#f7d4d4", "negative": "#d6e4f3", "equivocal": "#fde7c7", "indeterminate": "#ececec"}
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def _style(status: str | None) -> tuple[str, str, str]:
    return STATUS_STYLE.get(status or "indeterminate", STATUS_STYLE["indeterminate"])


def _marker(shape: str, x: float, y: float, fill: str, size: float = 7.0) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" fill="{fill}" stroke="#000" stroke-width="1"/>'
    if shape == "square":
        s = size * 0.9
        return (f'<rect x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}" fill="{fill}" '
                'stroke="#000" stroke-width="1"/>')
    if shape == "diamond":
        pts = f"{x:.1f},{y - size:.1f} {x + size:.1f},{y:.1f} {x:.1f},{y + size:.1f} {x - size:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{fill}" stroke="#000" stroke-width="1"/>'
    pts = f"{x:.1f},{y - size:.1f} {x + size:.1f},{y + size * 0.8:.1f} {x - size:.1f},{y + size * 0.8:.1f}"
    return f'<polygon points="{pts}" fill="{fill}" stroke="#000" stroke-width="1"/>'


def _text(x: float, y: float, text: str, *, size: int = 11, anchor: str = "start", weight: str = "normal",
          fill: str = "#111") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}" {FONT}>{escape(text)}</text>')


def _svg(width: int, height: int, title: str, description: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="t d" class="plot">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>" + "".join(body) + "</svg>"
    )


def _legend(x: float, y: float) -> list[str]:
    out = []
    for i, (status, (fill, shape, _)) in enumerate(STATUS_STYLE.items()):
        cx = x + i * 118
        out.append(_marker(shape, cx, y, fill, 6))
        out.append(_text(cx + 10, y + 4, status, size=11))
    return out


def _site_row(spec: Mapping[str, Any]) -> str:
    if spec.get("procedure") == "plasma":
        return "plasma (cfDNA)"
    site = spec.get("site") or "site not given"
    detail = spec.get("site_detail")
    return f"{site}: {detail}" if detail else str(site)


def _spec_label(spec: Mapping[str, Any]) -> str:
    parts = [str(spec.get("id", "?"))]
    if spec.get("ihc_score"):
        parts.append(f"IHC {spec['ihc_score']}")
    ish = spec.get("ish") or {}
    if ish.get("group"):
        parts.append(f"ISH group {ish['group']}")
    elif ish.get("status"):
        parts.append(f"ISH {ish['status']}")
    ngs = spec.get("ngs") or {}
    if ngs.get("amplified") is True or ngs.get("status"):
        parts.append(f"NGS {ngs.get('status') or 'amplified'}")
    return " · ".join(parts)


def timeline_svg(specimens: Sequence[Mapping[str, Any]]) -> Markup:
    """Specimens over time: x = collection date, rows = site; undated specimens in their own column."""
    width, left, right, top = 760, 150, 24, 34
    rows: list[str] = []
    for spec in specimens:
        row = _site_row(spec)
        if row not in rows:
            rows.append(row)
    row_h = 54
    height = top + max(1, len(rows)) * row_h + 58
    dates = [dt.date.fromisoformat(s["collected_on"]) for s in specimens if s.get("collected_on")]
    undated = [s for s in specimens if not s.get("collected_on")]
    plot_right = width - right - (90 if undated else 0)
    body: list[str] = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
    body.append(_text(left, 18, "Specimens over time (shape and text give the status)", size=12, weight="bold"))
    if not specimens:
        body.append(_text(left, top + 30, "No specimens entered yet."))
        return _svg(width, height, "Specimen timeline", "no specimens", body)
    lo = min(dates) if dates else dt.date.today()
    hi = max(dates) if dates else lo
    span = max((hi - lo).days, 1)

    def x_of(day: dt.date) -> float:
        if hi == lo:
            return (left + plot_right) / 2
        return left + 20 + (plot_right - left - 40) * (day - lo).days / span

    axis_y = top + len(rows) * row_h
    for i, row in enumerate(rows):
        y = top + i * row_h + row_h / 2
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(left - 8, y + 4, row, anchor="end"))
    body.append(f'<line x1="{left}" y1="{axis_y}" x2="{plot_right}" y2="{axis_y}" stroke="#333"/>')
    ticks = sorted(set(dates))
    last_label = -1e9
    for day in ticks:
        x = x_of(day)
        body.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 5}" stroke="#333"/>')
        if x - last_label >= 72:  # dates closer than a label's width share the earlier label
            body.append(_text(x, axis_y + 18, day.isoformat(), size=10, anchor="middle"))
            last_label = x
    if undated:
        ux = plot_right + 45
        body.append(_text(ux, axis_y + 18, "no date", size=10, anchor="middle"))
    placed: dict[tuple[int, int], int] = {}
    for spec in specimens:
        row_index = rows.index(_site_row(spec))
        x = x_of(dt.date.fromisoformat(spec["collected_on"])) if spec.get("collected_on") else plot_right + 45
        key = (row_index, round(x / 60))
        stack = placed.get(key, 0)
        placed[key] = stack + 1
        y = top + row_index * row_h + row_h / 2 - 8 + stack * 16
        fill, shape, short = _style(spec.get("status"))
        body.append(f'<g class="specimen" data-specimen="{escape(str(spec.get("id")))}">')
        body.append(_marker(shape, x, y, fill))
        label = f"{_spec_label(spec)} [{short}]"
        if x > width - right - 6.2 * len(label) - 14:  # near the right edge: label to the left of the marker
            body.append(_text(x - 11, y - 2, label, size=10, anchor="end"))
        else:
            body.append(_text(x + 11, y - 2, label, size=10))
        body.append("</g>")
    body.extend(_legend(left, height - 14))
    description = "; ".join(
        f"{s.get('id')}: {_site_row(s)}, {s.get('collected_on') or 'no date'}, {s.get('status') or 'unknown'}"
        for s in specimens
    )
    return _svg(width, height, "Specimen timeline", description, body)


@dataclass(frozen=True)
class Zone:
    x0: float
    x1: float
    y0: float
    y1: float
    label: str
    status: str


@dataclass(frozen=True)
class IshFrame:
    """What an ISH plot needs from the knowledge base for one scoring system."""

    system: str
    system_name: str
    ratio_cuts: tuple[float, ...]
    copy_cuts: tuple[float, ...]
    percent_cut: float | None
    zones: tuple[Zone, ...]


Classify = Callable[[float, float], tuple[str, str]]


def ish_frame(kb: Any, system_id: str, classify: Classify) -> IshFrame:
    """Thresholds of ``system_id`` and its zones, each named by ``classify(ratio, her2_per_cell)``."""
    system = kb.systems[system_id]
    thresholds = list(system.thresholds)
    ratio_cuts = tuple(sorted({float(t.value) for t in thresholds if t.quantity == "ratio"}))
    copy_cuts = tuple(sorted({float(t.value) for t in thresholds if t.quantity == "her2_per_cell"}))
    percent = [float(t.value) for t in thresholds if t.quantity == "percent_cells_amplified"]
    zones: list[Zone] = []
    if ratio_cuts or copy_cuts:
        xs = (0.0, *ratio_cuts, max(4.0, (ratio_cuts[-1] if ratio_cuts else 2.0) * 2))
        ys = (0.0, *copy_cuts, max(12.0, (copy_cuts[-1] if copy_cuts else 6.0) * 2))
        for x0, x1 in itertools.pairwise(xs):
            for y0, y1 in itertools.pairwise(ys):
                label, status = classify((x0 + x1) / 2, (y0 + y1) / 2)
                zones.append(Zone(x0, x1, y0, y1, label, status))
    return IshFrame(
        system=system_id, system_name=str(getattr(system, "name", system_id)), ratio_cuts=ratio_cuts,
        copy_cuts=copy_cuts, percent_cut=percent[0] if percent else None, zones=tuple(zones),
    )


def ish_svg(frame: IshFrame, specimens: Sequence[Mapping[str, Any]]) -> Markup:
    """The ISH plot of ``specimens`` on ``frame``."""
    points = [s for s in specimens if (s.get("ish") or {}).get("ratio") is not None
              and (s.get("ish") or {}).get("her2_per_cell") is not None]
    if not frame.zones:
        return _percent_svg(frame, specimens)
    width, height, left, bottom, top, right = 580, 410, 56, 48, 50, 150
    x_max = max([z.x1 for z in frame.zones] + [float(s["ish"]["ratio"]) * 1.1 for s in points])
    y_max = max([z.y1 for z in frame.zones] + [float(s["ish"]["her2_per_cell"]) * 1.1 for s in points])
    pw, ph = width - left - right, height - top - bottom

    def px(v: float) -> float:
        return left + pw * min(v, x_max) / x_max

    def py(v: float) -> float:
        return top + ph - ph * min(v, y_max) / y_max

    body: list[str] = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
    title = f"ISH: {frame.system_name}"
    if len(title) > 70:
        split = title.rfind(" ", 0, 70)
        body.append(_text(8, 14, title[:split], size=11, weight="bold"))
        body.append(_text(8, 28, title[split + 1 :], size=11, weight="bold"))
    else:
        body.append(_text(8, 18, title, size=11, weight="bold"))
    for zone in frame.zones:
        x0, x1 = px(zone.x0), px(zone.x1 if zone.x1 < x_max else x_max)
        y0, y1 = py(zone.y1 if zone.y1 < y_max else y_max), py(zone.y0)
        body.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
                    f'fill="{ZONE_FILL.get(zone.status, "#eee")}" stroke="#999" stroke-width="0.5"/>')
        body.append(_text((x0 + x1) / 2, (y0 + y1) / 2 + 4, zone.label, size=10, anchor="middle", fill="#333"))
    for cut in frame.ratio_cuts:
        body.append(f'<line x1="{px(cut):.1f}" y1="{top}" x2="{px(cut):.1f}" y2="{top + ph}" stroke="#333" '
                    'stroke-dasharray="4 3"/>')
        body.append(_text(px(cut), top - 4, f"ratio {cut:g}", size=10, anchor="middle"))
    for cut in frame.copy_cuts:
        body.append(f'<line x1="{left}" y1="{py(cut):.1f}" x2="{left + pw}" y2="{py(cut):.1f}" stroke="#333" '
                    'stroke-dasharray="4 3"/>')
        body.append(_text(left + pw + 4, py(cut) + 4, f"{cut:g} signals/cell", size=10))
    body.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    for i in range(int(x_max) + 1):
        body.append(_text(px(i), top + ph + 14, str(i), size=10, anchor="middle"))
    step = 2 if y_max <= 16 else 4
    for v in range(0, int(y_max) + 1, step):
        body.append(_text(left - 6, py(v) + 4, str(v), size=10, anchor="end"))
    body.append(_text(left + pw / 2, height - 14, "HER2/CEP17 ratio", size=11, anchor="middle"))
    body.append(f'<text x="14" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle" {FONT} '
                f'transform="rotate(-90 14 {top + ph / 2:.1f})">average HER2 signals per cell</text>')
    for spec in points:
        ish = spec["ish"]
        fill, shape, short = _style(ish.get("status"))
        x, y = px(float(ish["ratio"])), py(float(ish["her2_per_cell"]))
        body.append(f'<g class="ish-point" data-specimen="{escape(str(spec.get("id")))}">')
        body.append(_marker(shape, x, y, fill, 6))
        body.append(_text(x + 9, y - 6, f"{spec.get('id')} [{short}]", size=10, weight="bold"))
        body.append("</g>")
    if not points:
        body.append(_text(left + pw / 2, top + ph / 2, "no dual-probe ISH counts entered", size=11,
                          anchor="middle"))
    lx = left + pw + 8
    body.append(_text(lx, top + ph - 40, "zones: guideline", size=10))
    body.append(_text(lx, top + ph - 26, "points: specimens", size=10))
    description = "; ".join(
        f"{s.get('id')}: ratio {s['ish']['ratio']}, HER2 {s['ish']['her2_per_cell']}/cell, {s['ish'].get('status')}"
        for s in points
    ) or "no dual-probe ISH counts"
    return _svg(width, height, f"ISH plot, {frame.system_name}", description, body)


def _percent_svg(frame: IshFrame, specimens: Sequence[Mapping[str, Any]]) -> Markup:
    bars = [s for s in specimens if (s.get("ish") or {}).get("status")]
    width, left, top = 560, 90, 40
    height = top + 30 * max(1, len(bars)) + 50
    pw = width - left - 40
    body = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
            _text(left, 18, f"ISH: {frame.system_name}", size=12, weight="bold")]
    if frame.percent_cut is not None:
        x = left + pw * frame.percent_cut / 100
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 40}" stroke="#333" '
                    'stroke-dasharray="4 3"/>')
        body.append(_text(x, top - 10, f"amplified in ≥{frame.percent_cut:g}% of cells", size=10, anchor="middle"))
    for i, spec in enumerate(bars):
        ish = spec["ish"]
        y = top + i * 30
        fill, _, short = _style(ish.get("status"))
        share = ish.get("percent_cells_amplified")
        body.append(_text(left - 6, y + 15, str(spec.get("id")), anchor="end"))
        if share is not None:
            body.append(f'<rect x="{left}" y="{y + 4}" width="{pw * float(share) / 100:.1f}" height="16" '
                        f'fill="{fill}"/>')
            body.append(_text(left + pw * float(share) / 100 + 4, y + 16, f"{share:g}% [{short}]", size=10))
        else:
            body.append(_text(left + 4, y + 16, f"ISH {ish.get('status')} (no % given) [{short}]", size=10))
    body.append(_text(left + pw / 2, height - 14, "% of counted cells amplified", size=11, anchor="middle"))
    return _svg(width, height, f"ISH plot, {frame.system_name}", "share of amplified cells per specimen", body)
