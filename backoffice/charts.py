"""The dashboard's chart, drawn on the server as SVG: no chart library, no script, CSP-clean.

Colours come from CSS classes in static/css/app.css (inline styles are not allowed by the CSP).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from payments import money
from payments.models import Payment

# Stacks, bottom to top, grouping the seven statuses into four a reader can tell apart. A
# refunded payment is split in two: what it kept (with the succeeded ones) and what went back
# (its amount_refunded), so "Refunded" counts refunded money, not whole refunded payments.
SERIES = [
    ("succeeded", "Succeeded (less refunds)", {Payment.Status.SUCCEEDED}),
    (
        "refunded",
        "Refunded",
        {Payment.Status.PARTIALLY_REFUNDED, Payment.Status.REFUNDED},
    ),
    ("open", "Pending or processing", {Payment.Status.PENDING, Payment.Status.PROCESSING}),
    ("failed", "Failed or cancelled", {Payment.Status.FAILED, Payment.Status.CANCELLED}),
]
SUCCEEDED, REFUNDED = 0, 1  # their places in SERIES


def _parts(row: dict) -> list[Decimal]:
    """One row of dashboard_daily_volume (a day and a status) as its part of each series."""
    parts = [Decimal(0)] * len(SERIES)
    total = row["total"] or Decimal(0)
    for i, (_, _, statuses) in enumerate(SERIES):
        if row["status"] in statuses:
            parts[i] = total
    if row["status"] in SERIES[REFUNDED][2]:
        # A refund status follows the refunds: amount_refunded is what went back (a pending
        # refund on top of one that succeeded is counted with it), the rest was kept.
        refunded = min(row.get("refunded") or Decimal(0), total)
        parts[REFUNDED] = refunded
        parts[SUCCEEDED] = total - refunded
    return parts


WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 28


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass
class Chart:
    currency: str
    days: list[dt.date]
    rows: list[dict] = field(default_factory=list)  # per day: {"day", "totals": [...], "sum"}
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    series: list[tuple[str, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(row["sum"] for row in self.rows)


def _nice_ceiling(value: Decimal) -> Decimal:
    """1, 2 or 5 times a power of ten, at least `value` (the top of the y axis)."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def daily_volume_chart(rows: list[dict], *, currency: str, today: dt.date, days: int) -> Chart:
    """Stacked bars of daily volume per status group, from dashboard_daily_volume's rows."""
    day_list = [today - dt.timedelta(days=days - 1 - i) for i in range(days)]
    totals = {d: [Decimal(0)] * len(SERIES) for d in day_list}
    for row in rows:
        if row["day"] not in totals:
            continue
        for i, part in enumerate(_parts(row)):
            totals[row["day"]][i] += part

    chart = Chart(currency=currency, days=day_list)
    chart.series = [(css, label) for css, label, _ in SERIES]
    top = _nice_ceiling(max((sum(t, Decimal(0)) for t in totals.values()), default=Decimal(0)))
    plot_h = chart.baseline - TOP
    slot = (chart.plot_right - chart.plot_left) / days
    bar_w = max(slot * 0.7, 1)
    for i, day in enumerate(day_list):
        x = chart.plot_left + i * slot + (slot - bar_w) / 2
        y = float(chart.baseline)
        for (css, label, _), value in zip(SERIES, totals[day], strict=True):
            if not value:
                continue
            h = float(value / top) * plot_h
            y -= h
            chart.bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(y, 1),
                    width=round(bar_w, 1),
                    height=round(h, 1),
                    css=css,
                    title=f"{day:%b %d}: {label} {money.format_amount(value, currency)}",
                )
            )
        chart.rows.append(
            {
                "day": day,
                "totals": [money.format_amount(v, currency) for v in totals[day]],
                "sum": sum(totals[day]),
            }
        )
        if i % 5 == 0 or i == days - 1:
            chart.x_labels.append((round(x + bar_w / 2, 1), f"{day:%b %d}"))
    for k in range(5):
        value = top * k / 4
        y = chart.baseline - plot_h * k / 4
        label = f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:,.1f}"
        chart.y_ticks.append((round(y, 1), label))
    return chart
