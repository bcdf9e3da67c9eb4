"""Server-side SVG charts for the dashboard: no chart library, no script, nothing from a CDN.

Every chart is `role="img"` with a label, and the page shows the same numbers in a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

COLOURS = ("#004E89", "#C2410C", "#6B7280", "#1E6B34")


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *,
              width: int = 720, height: int = 260) -> Markup:  # fmt: skip
    """Grouped vertical bars: one group per label, one bar per series, with a legend."""
    top, bottom, left, right = 24, 48, 40, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *(value for _, values in series for value in values)])
    group_w = plot_w / max(1, len(labels))
    bar_w = max(1.0, group_w * 0.8 / max(1, len(series)))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#767676"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    every = max(1, len(labels) // 12)  # at most about twelve axis labels
    for index, label in enumerate(labels):
        x0 = left + index * group_w + group_w * 0.1
        for number, (name, values) in enumerate(series):
            value = values[index] if index < len(values) else 0
            h = plot_h * value / peak
            x = x0 + number * bar_w
            colour = COLOURS[number % len(COLOURS)]
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(label)} · {escape(name)}: {value}</title></rect>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{x0 + group_w * 0.4:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'font-size="11">{escape(label)}</text>'
            )
    for number, (name, _) in enumerate(series):
        x = left + number * 150
        colour = COLOURS[number % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="{height - 18}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{height - 8}" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
