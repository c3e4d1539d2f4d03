"""Local dialer times around DST: the repeated hour, the skipped hour, epochs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ingest.clock import LocalClock
from ingest.rejects import Unmappable

NEW_YORK = LocalClock(ZoneInfo("America/New_York"))


def test_plain_local_time_gets_the_zone_offset() -> None:
    moment = LocalClock(ZoneInfo("Asia/Shanghai")).parse("2026-11-02 09:00:00")
    assert moment.isoformat() == "2026-11-02T09:00:00+08:00"


def test_text_with_its_own_offset_keeps_it() -> None:
    assert NEW_YORK.parse("2026-11-02T09:00:00+01:00").utcoffset() == timedelta(hours=1)


def test_ambiguous_time_reads_as_first_occurrence() -> None:
    # 2026-11-01: New York goes from EDT (-4) back to EST (-5) at 02:00
    assert NEW_YORK.parse("2026-11-01 01:30:00").utcoffset() == timedelta(hours=-4)


def test_later_time_of_the_call_in_the_repeated_hour_stays_after_its_start() -> None:
    start = NEW_YORK.parse("2026-11-01 01:50:00")
    end = NEW_YORK.parse("2026-11-01 01:10:00", not_before=start)
    assert end.utcoffset() == timedelta(hours=-5)
    assert end - start == timedelta(minutes=20)


def test_nonexistent_time_is_rejected_with_the_zone() -> None:
    with pytest.raises(Unmappable) as caught:
        NEW_YORK.parse("2026-03-08 02:30:00")
    assert caught.value.reason == "bad_timestamp" and "America/New_York" in caught.value.detail


def test_garbage_is_a_bad_timestamp() -> None:
    with pytest.raises(Unmappable) as caught:
        NEW_YORK.parse("yesterday")
    assert caught.value.reason == "bad_timestamp"


def test_epoch_is_shown_in_the_offset_in_force_at_that_instant() -> None:
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC).timestamp()
    winter = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()
    assert NEW_YORK.from_epoch(summer).isoformat() == "2026-07-01T08:00:00-04:00"
    assert NEW_YORK.from_epoch(winter).isoformat() == "2026-12-01T07:00:00-05:00"


def test_fractions_and_the_t_separator_read_like_plain_times() -> None:
    clock = LocalClock(ZoneInfo("Asia/Shanghai"))
    assert clock.parse("2026-11-02T09:00:00.250000").isoformat() == "2026-11-02T09:00:00.250000+08:00"
    assert clock.parse("2026-11-02 09:00:00Z").utcoffset() == timedelta(0)


def test_the_skipped_hour_is_rejected_on_the_fast_path_too() -> None:
    clock = LocalClock(ZoneInfo("America/New_York"))
    clock.parse("2026-03-08 01:59:00")
    for _ in range(2):
        with pytest.raises(Unmappable):
            clock.parse("2026-03-08 02:00:30")


SHANGHAI = LocalClock(ZoneInfo("Asia/Shanghai"))
ELEVEN = "2026-11-06T11:00:00+08:00"


@pytest.mark.parametrize("text", ["1793934000", "1793934000000", "1793934000000000", "1793934000.25",
                                  "1793934000123", ELEVEN, "2026-11-06 11:00:00"])  # fmt: skip
def test_auto_tells_epoch_units_by_their_digits_and_reads_dates_as_dates(text: str) -> None:
    assert SHANGHAI.read(text, "auto", name="start").isoformat() == ELEVEN


@pytest.mark.parametrize(
    ("text", "form", "says"),
    [
        ("17939340000", "auto", "11 digits"),  # neither seconds nor milliseconds
        ("1793934000", "epoch_ms", "year 1970, not a call's time: is it epoch_s?"),  # seconds declared ms
        ("1793934000000", "epoch_s", "year 58817"),  # milliseconds declared seconds
        ("2026-11-06 11:00:00", "epoch_ms", "not a number"),
        ("1793934000", "text", "not a date and time"),
    ],
)
def test_a_time_in_another_unit_than_declared_is_rejected_never_shifted(
    text: str, form: str, says: str
) -> None:
    with pytest.raises(Unmappable) as caught:
        SHANGHAI.read(text, form, name="start")
    assert (
        caught.value.reason == "bad_timestamp"
        and says in caught.value.detail
        and "start" in caught.value.detail
    )
