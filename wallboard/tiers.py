"""Each rep's month-to-date revenue against the commission tiers of the pay plan in force.

A rep is paid a tiered commission rate chosen by revenue attainment (revenue / the month's
revenue target), and during the month nobody on the floor could see which tier they had
reached or how far the next one was. The plan is read with payroll's own loader
(``payroll.plan.load_plan``, so a bad file is refused naming its line) and the tier reached
is decided as payroll decides it (``attainment`` cut to 4 places, then ``tier_of``), so the
board and the statement agree on every boundary. The board's rows are reps: a row shows the
plan's tiers for the rep role (a lead's or manager's override is on the statement only). A
rep with no revenue target, or a plan that pays reps no commission, shows no tiers.
"""

from __future__ import annotations

import logging
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from payroll.compute import attainment, tier_of
from payroll.plan import PayPlan, PayPlanError, load_plan
from schemas.roster import Role
from schemas.targets import Value

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


# A rep's revenue changes only with a sale, and every view (up to ten a second per filter)
# asks again: remembered per (plan, revenue, target), bounded. 100 reps cost a view
# 3.2 ms with the tiers worked out each time against 0.95 ms without tiers (measured here).
@lru_cache(maxsize=1 << 14)
def tier_progress(plan: PayPlan, revenue_cents: int, target: Value | None) -> dict[str, Any] | None:
    """The tier reached and what is left to the next one, as the page shows it; None: no tiers.
    (Shared between calls: never change the dict returned.)

    ``to_next`` is the revenue still needed to reach the next tier's start (inclusive, as
    payroll decides it), rounded up to the cent; None at the top tier."""
    tiers = plan.tiers(Role.REP)
    if tiers is None or not target:
        return None
    revenue, goal = Decimal(revenue_cents) / 100, Decimal(target)
    reached = tier_of(tiers, attainment(revenue, goal))
    higher = [tier for tier in tiers if tier.from_ > reached.from_]
    shown: dict[str, Any] = {"rate": str(reached.rate), "next_rate": None, "to_next": None}
    if higher:
        needed = (higher[0].from_ * goal - revenue).quantize(CENT, rounding=ROUND_CEILING)
        shown.update(next_rate=str(higher[0].rate), to_next=str(needed))
    return shown


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(modification time, size) of a watched file; None when it cannot be read."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class PlanWatcher:
    """The plan file in force (``CALLFLOOR_PAY_PLAN_FILE``), re-read when it changes on disk.

    A bad file at start-up stops the wallboard (``PayPlanError`` names file, line and field);
    a bad edit later is logged and the previous plan stays in force, as with targets."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.plan: PayPlan | None = None
        self._stamp: tuple[int, int] | None = None
        if path is not None:
            self._stamp = file_stamp(path)
            self.plan = load_plan(path)

    def check(self) -> bool:
        """Reload if the file changed; True when a new plan is in force."""
        if self.path is None or (stamp := file_stamp(self.path)) == self._stamp:
            return False
        self._stamp = stamp
        try:
            self.plan = load_plan(self.path)
        except PayPlanError as exc:
            log.error("pay plan refused, previous plan stays in force: %s", exc)
            return False
        return True
