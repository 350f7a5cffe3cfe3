"""What ``python -m tools.cost`` prints: per stack and item, the total, and the budget's verdict.

A profile whose templates stop and start something (``tools.cost_schedule``) gets two columns: all
week, and with the schedule. One that stops nothing prints one column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from platform_spec import PlatformSpec

PRICE_REGION = "us-east-1"
"""The region of the list prices in prices.json."""


class Priced(Protocol):
    """An item of the bill (``tools.cost.Item``)."""

    @property
    def stack(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def monthly(self) -> float: ...
    @property
    def awake(self) -> float: ...
    @property
    def scheduled(self) -> float: ...


def scheduled(items: Sequence[Priced]) -> bool:
    """Whether a schedule in the templates stops any item for part of the week."""
    return any(item.awake < 1 for item in items)


def totals(items: Sequence[Priced]) -> tuple[float, float]:
    """All week, and with the schedule (the same where nothing sleeps)."""
    return sum(i.monthly for i in items), sum(i.scheduled for i in items)


def _row(item: Priced, both: bool) -> str:
    line = f"  {item.name:<62} ${item.monthly:>7.2f}"
    if not both:
        return line
    share = f"  ({item.awake:.0%} of the week)" if item.awake < 1 else ""
    return f"{line}  ${item.scheduled:>7.2f}{share}"


def report(items: Sequence[Priced], prices: dict[str, Any], schedule: str) -> str:
    """The bill; with a schedule (named by ``schedule``), both columns."""
    both = scheduled(items)
    lines = [f"Fixed monthly cost at list prices ({prices['source']}, {prices['as_of']})", ""]
    if both:
        lines += [
            f"Two columns: all week, and with the schedule ({schedule}). What the templates stop",
            "and start is billed only while it runs (Fargate tasks and their Cloud Map instances, RDS",
            "instance hours, an EC2 instance's hours, auto-assigned address and detailed monitoring).",
            "",
            f"  {'':<62} {'all week':>8}  {'with the schedule'}",
        ]
    by_stack: dict[str, list[Priced]] = defaultdict(list)
    for item in items:
        by_stack[item.stack].append(item)
    for stack, stack_items in by_stack.items():
        week, asleep = totals(stack_items)
        lines.append(
            f"{stack}: ${week:.2f} all week; ${asleep:.2f} with the schedule" if both else f"{stack}: ${week:.2f}"
        )
        lines.extend(_row(item, both) for item in stack_items)
    week, asleep = totals(items)
    total = (
        f"${week:.2f} a month all week; ${asleep:.2f} with the schedule ({schedule})"
        if both
        else f"${week:.2f} a month"
    )
    lines += ["", f"TOTAL fixed: {total}", "", "Billed by use, not included:"]
    lines.extend(f"  - {what}" for what in prices["usage_based"])
    return "\n".join(lines)


def budget_lines(total: float, spec: PlatformSpec, *, with_schedule: bool = False) -> tuple[list[str], bool]:
    """What the profile's budget says of ``total`` (with the schedule, where the templates have
    one), and whether it holds; prices are us-east-1's."""
    lines = []
    if spec.region != PRICE_REGION:
        lines.append(f"Prices are {PRICE_REGION}'s: {spec.region} lists its own, often a few percent apart.")
    if spec.schedule is not None and not with_schedule:
        lines.append(
            f"{spec.environment} names a schedule ({spec.schedule.describe()}) but its templates stop nothing: "
            "priced all week"
        )
    budget = spec.monthly_budget_usd
    if budget is None:
        return lines, True
    what = f"${total:.2f} a month" + (" with the schedule" if with_schedule else "")
    if total <= budget:
        spare = f"${budget - total:.2f} to spare" + (" with the schedule" if with_schedule else "")
        lines.append(f"Budget: ${budget:.2f} a month (monthly_budget_usd); {spare}")
        return lines, True
    lines.append(
        f"OVER BUDGET: {what} is ${total - budget:.2f} over {spec.environment}'s ${budget:.2f} "
        "(platform_spec/profiles.py, monthly_budget_usd)"
    )
    return lines, False
