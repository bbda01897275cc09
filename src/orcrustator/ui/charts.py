"""Geometry of the run-duration bar chart, drawn by the template as inline SVG.

Pure arithmetic: the template only places what this returns, so no chart library (and no
script) is needed, and the page stays within a `style-src 'self'` policy because every size is
an SVG attribute rather than an inline style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orcrustator.ui.rendering import format_duration, format_when
from orcrustator.ui.views import RunView

WIDTH = 1000
HEIGHT = 240
LEFT = 56
RIGHT = 8
TOP = 12
BOTTOM = 30
MAX_BARS = 60
MAX_BAR_WIDTH = 36.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    status: str
    title: str
    href: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DurationChart:
    width: int
    height: int
    left: int
    right: int
    first_x: float
    top: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    first_label: str
    last_label: str


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k that is at least `value`."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return 10.0 * magnitude  # pragma: no cover - the loop always returns


def tick_label(seconds: float) -> str:
    """Compact axis labels: `0`, `250 ms`, `2.5 s`, `3 min`, `1.5 h`."""
    if seconds == 0:
        return "0"
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def duration_chart(runs: list[RunView]) -> DurationChart | None:
    """Bars for the most recent finished runs, oldest on the left; None when there are none."""
    finished = [r for r in runs if not r.is_active and r.duration is not None][:MAX_BARS]
    if not finished:
        return None
    finished.reverse()
    step = nice_ceiling(max(r.duration or 0.0 for r in finished) / 4)
    steps = max(1, math.ceil(max(r.duration or 0.0 for r in finished) / step))
    top_value = step * steps
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    slot = plot_width / len(finished)  # bars spread over the whole width, oldest first
    bar_width = min(MAX_BAR_WIDTH, max(2.0, slot * 0.7))
    bars = []
    for index, run in enumerate(finished):
        duration = run.duration or 0.0
        height = max(1.5, plot_height * duration / top_value)
        x = LEFT + index * slot + (slot - bar_width) / 2
        bars.append(
            Bar(
                x=round(x, 1),
                y=round(baseline - height, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
                status=str(run.status),
                title=f"{format_when(run.started_at)} · {run.status} · {format_duration(duration)}",
                href=f"/runs/{run.run_id}",
            )
        )
    ticks = [
        Tick(y=round(baseline - plot_height * i / steps, 1), label=tick_label(round(step * i, 6)))
        for i in range(steps + 1)
    ]
    return DurationChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        first_x=round(LEFT + slot / 2, 1),
        top=TOP,
        baseline=baseline,
        bars=bars,
        ticks=ticks,
        first_label=format_when(finished[0].started_at),
        last_label=format_when(finished[-1].started_at),
    )
