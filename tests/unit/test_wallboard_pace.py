"""Pace against the working part of the shift: breaks stand still, a target of 0 has no pace."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from wallboard.pace import Pace, Shift, month_fraction, pace, progress

SHIFT = Shift(time(9), time(18), ((time(12), time(13)),))  # 8 working hours


def at(hh: int, mm: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 12, day, hh, mm)


def test_working_time_leaves_out_breaks() -> None:
    assert SHIFT.working_seconds == 8 * 3600


@pytest.mark.parametrize(
    ("clock", "share"),
    [(at(8), 0.0), (at(9), 0.0), (at(11), 0.25), (at(12), 3 / 8), (at(12, 30), 3 / 8), (at(13), 3 / 8),
     (at(15), 5 / 8), (at(18), 1.0), (at(23), 1.0)],
)  # fmt: skip
def test_share_of_the_shift_stands_still_during_the_break(clock: datetime, share: float) -> None:
    assert SHIFT.fraction(clock) == pytest.approx(share)


def test_lunch_is_not_behind_pace() -> None:
    done_by_noon = 3 / 8 * 80
    assert pace(done_by_noon, 80, SHIFT.fraction(at(12, 55))) is Pace.AHEAD
    assert pace(done_by_noon, 80, SHIFT.fraction(at(13, 30))) is Pace.BEHIND
    assert SHIFT.on_break(at(12, 30)) and not SHIFT.active(at(12, 30))
    assert SHIFT.active(at(13)) and not SHIFT.on_break(at(13))


def test_before_the_shift_nobody_is_behind() -> None:
    assert pace(0, 200, SHIFT.fraction(at(7))) is Pace.AHEAD


def test_met_target_and_missing_or_zero_target() -> None:
    assert pace(200, 200, 0.5) is Pace.MET
    assert pace(5, 0, 0.5) is Pace.NONE
    assert pace(0, 0, 1.0) is Pace.NONE
    assert pace(5, None, 0.5) is Pace.NONE
    assert progress(5, 0) is None and progress(5, None) is None
    assert progress(50, 200) == 0.25 and progress(500, 200) == 1.0


def test_breaks_outside_the_shift_are_clipped_and_bad_ones_refused() -> None:
    early = Shift(time(9), time(17), ((time(8), time(9, 30)),))
    assert early.working_seconds == 7.5 * 3600
    with pytest.raises(ValueError, match="not after its start"):
        Shift(time(18), time(9))
    with pytest.raises(ValueError, match="ends before it starts"):
        Shift(time(9), time(18), ((time(13), time(12)),))


def test_month_share_counts_whole_days_then_today() -> None:
    assert month_fraction(at(9, day=1), SHIFT) == 0.0
    assert month_fraction(at(18, day=31), SHIFT) == pytest.approx(1.0)
    assert month_fraction(at(11, day=11), SHIFT) == pytest.approx((10 + 0.25) / 31)
