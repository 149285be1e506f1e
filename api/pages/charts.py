"""Charts drawn on the server as SVG: no script, no library, readable without colour (every mark is labelled
in its <title> and every chart comes with a table of the same figures)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# Status colours with at least 3:1 contrast against white, each also named in text wherever it is shown.
STATUS_COLOURS = {
    "thriving": "#1b7a3a", "healthy": "#4a8f1f", "needs_attention": "#a86200", "at_risk": "#b3261e",
    "dormant": "#5f6368", "paused": "#3b5ba9", "ended": "#222222", "too_early": "#7b4fa0",
}
SERIES_COLOURS = ("#1f5fa8", "#b3261e", "#1b7a3a", "#a86200", "#7b4fa0", "#222222")


def stacked_bars(label: str, columns: Sequence[tuple[str, dict[str, int]]], order: Sequence[str],
                 width: int = 640, height: int = 220) -> str:
    """One bar per column (e.g. a week), stacked by status in ``order``."""
    top = max([sum(counts.values()) for _, counts in columns] + [1])
    left, bottom, plot_h = 36, 28, height - 40
    step = (width - left - 8) / max(len(columns), 1)
    bar = step * 0.7
    parts = [_open(label, width, height), _axis(left, height - bottom, width - 8, top, plot_h)]
    for n, (name, counts) in enumerate(columns):
        x = left + n * step + (step - bar) / 2
        y = height - bottom
        for status in order:
            count = counts.get(status, 0)
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{STATUS_COLOURS.get(status, "#444")}"><title>{escape(name)}: {count} '
                         f'{escape(status.replace("_", " "))}</title></rect>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 10}" font-size="12" text-anchor="middle" '
                     f'fill="#222">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def lines(label: str, series: dict[str, Sequence[tuple[str, float]]], width: int = 640, height: int = 220,
          top: float | None = None) -> str:
    """One line per series over the same x labels."""
    labels = next(iter(series.values()), [])
    top = top or max([v for points in series.values() for _, v in points] + [1])
    left, bottom, plot_h = 36, 28, height - 40
    step = (width - left - 40) / max(len(labels) - 1, 1)
    parts = [_open(label, width, height), _axis(left, height - bottom, width - 8, top, plot_h)]
    for n, (name, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        coords = [(left + 8 + i * step, height - bottom - plot_h * value / top) for i, (_, value) in enumerate(points)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, y), (at, value) in zip(coords, points, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)}, '
                         f'{escape(at)}: {value:g}</title></circle>')
    for i, (at, _) in enumerate(labels):
        if len(labels) <= 12 or i % 2 == 0:
            parts.append(f'<text x="{left + 8 + i * step:.1f}" y="{height - 10}" font-size="12" '
                         f'text-anchor="middle" fill="#222">{escape(at)}</text>')
    parts.append("</svg>")
    return "".join(parts) + legend(list(series))


def legend(names: Sequence[str]) -> str:
    """The series' names beside a swatch of their colour (a list: readable without hovering)."""
    items = "".join(f'<li><svg width="12" height="12" aria-hidden="true" focusable="false"><rect width="12" '
                    f'height="12" fill="{SERIES_COLOURS[n % len(SERIES_COLOURS)]}"/></svg> {escape(name)}</li>'
                    for n, name in enumerate(names))
    return f'<ul class="legend">{items}</ul>'


def balance(by_mentor: int, by_mentee: int, width: int = 320, height: int = 28) -> str:
    """Feedback given by each side, as one bar split in two."""
    total = by_mentor + by_mentee
    label = f"Feedback given: {by_mentor} by the mentor, {by_mentee} by the mentee"
    if not total:
        return (f'{_open(label, width, height)}<rect x="0" y="4" width="{width}" height="20" fill="#e8eaed"/>'
                '<text x="8" y="18" font-size="12" fill="#222">no feedback yet</text></svg>')
    split = width * by_mentor / total
    return (f'{_open(label, width, height)}'
            f'<rect x="0" y="4" width="{split:.1f}" height="20" fill="#1f5fa8"><title>mentor: {by_mentor}</title></rect>'
            f'<rect x="{split:.1f}" y="4" width="{width - split:.1f}" height="20" fill="#a86200">'
            f'<title>mentee: {by_mentee}</title></rect></svg>')


def _open(label: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(label)}" class="chart"><title>{escape(label)}</title>')


def _axis(left: int, base: float, right: int, top: float, plot_h: float) -> str:
    return (f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#5f6368"/>'
            f'<text x="{left - 4}" y="{base - plot_h + 4:.1f}" font-size="12" text-anchor="end" fill="#222">'
            f'{top:g}</text><text x="{left - 4}" y="{base}" font-size="12" text-anchor="end" fill="#222">0</text>')
