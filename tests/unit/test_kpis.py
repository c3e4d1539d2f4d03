"""Metric definitions from DESIGN.md: what counts as a dial, connect, valid connect, day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.cdr import parse_cdr
from schemas.kpis import (
    Contribution,
    abandon_rate,
    average_handle_time,
    business_day,
    connect_rate,
    contribution,
    price_control,
)
from tests.factories import cdr_dict, encode, unanswered

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def counted(data: dict, threshold: int = 30) -> Contribution:
    return contribution(parse_cdr(encode(data), now=NOW), threshold)


def test_answered_human_sale_counts_everything() -> None:
    c = counted(cdr_dict())
    assert c == Contribution(dials=1, connects=1, valid_connects=1, talk_seconds=60,
                             wrap_seconds=15, sales=1, revenue=129900, new_customers=1,
                             outbound_connects=1, outbound_talk_seconds=60)  # fmt: skip


def test_outbound_counters_leave_out_inbound_answered_calls() -> None:
    """呼出接通数量 / 时间 are outbound connects and their talk: an answered inbound call is a
    connect with talk time but neither (the seed's rule; connects and talk_seconds keep both)."""
    inbound = counted(cdr_dict(direction="inbound"))
    assert (inbound.connects, inbound.talk_seconds) == (1, 60)
    assert (inbound.outbound_connects, inbound.outbound_talk_seconds, inbound.dials) == (0, 0, 0)
    machine = counted(cdr_dict(amd="machine", outcome=None, sale_amount=None, new_customer=False))
    assert (machine.outbound_connects, machine.outbound_talk_seconds) == (0, 0)


def test_unanswered_is_a_dial_only() -> None:
    assert counted(unanswered()) == Contribution(dials=1)


def test_voicemail_and_machine_answer_are_not_connects() -> None:
    machine = cdr_dict(amd="machine", outcome=None, sale_amount=None, new_customer=False)
    assert counted(machine).connects == 0 and counted(machine).talk_seconds == 0
    voicemail = unanswered(disposition="voicemail", amd="machine")
    assert counted(voicemail) == Contribution(dials=1)


def test_amd_unsure_or_missing_still_connects() -> None:
    assert counted(cdr_dict(amd="notsure")).connects == 1
    assert counted(cdr_dict(amd=None)).connects == 1


def test_abandoned_is_not_a_connect() -> None:
    abandoned = unanswered(disposition="abandoned", answered_at="2026-11-26T10:00:05+08:00",
                           ended_at="2026-11-26T10:00:07+08:00", talk_seconds=2)  # fmt: skip
    c = counted(abandoned)
    assert (c.dials, c.connects, c.abandoned, c.talk_seconds) == (1, 0, 1, 0)


@pytest.mark.parametrize(("talk", "threshold", "valid"), [(29, 30, 0), (30, 30, 1), (31, 30, 1),
                                                          (45, 60, 0), (0, 0, 1)])  # fmt: skip
def test_valid_call_threshold_is_inclusive(talk: int, threshold: int, valid: int) -> None:
    ended = datetime(2026, 11, 26, 2, 0, 12, tzinfo=UTC) + timedelta(seconds=talk)
    data = cdr_dict(ended_at=ended.isoformat(), talk_seconds=talk)
    assert counted(data, threshold).valid_connects == valid


def test_inbound_connect_is_not_a_dial() -> None:
    c = counted(cdr_dict(direction="inbound"))
    assert (c.dials, c.connects) == (0, 1)


def test_new_customer_counts_only_with_a_sale() -> None:
    no_sale = cdr_dict(outcome="callback", sale_amount=None, new_customer=True)
    assert counted(no_sale).new_customers == 0


SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def test_business_day_is_local_date_across_midnight() -> None:
    assert business_day(datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC), SHANGHAI) == date(2026, 11, 26)
    assert business_day(datetime(2026, 11, 26, 16, 0, 0, tzinfo=UTC), SHANGHAI) == date(2026, 11, 27)


def test_business_day_across_dst_change_in_new_york() -> None:
    # 2026-11-01 is a 25-hour day in New York: 04:00Z is 00:00 EDT, 05:00Z next day is 00:00 EST.
    assert business_day(datetime(2026, 11, 1, 3, 59, tzinfo=UTC), NEW_YORK) == date(2026, 10, 31)
    assert business_day(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), NEW_YORK) == date(2026, 11, 1)
    assert business_day(datetime(2026, 11, 2, 4, 59, tzinfo=UTC), NEW_YORK) == date(2026, 11, 1)
    assert business_day(datetime(2026, 11, 2, 5, 0, tzinfo=UTC), NEW_YORK) == date(2026, 11, 2)
    # 2026-03-08 is a 23-hour day.
    assert business_day(datetime(2026, 3, 8, 4, 59, tzinfo=UTC), NEW_YORK) == date(2026, 3, 7)
    assert business_day(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), NEW_YORK) == date(2026, 3, 8)
    assert business_day(datetime(2026, 3, 9, 3, 59, tzinfo=UTC), NEW_YORK) == date(2026, 3, 8)


def test_business_day_uses_the_offset_the_dialer_sent() -> None:
    cdr = parse_cdr(encode(unanswered(dialed_at="2026-11-26T23:30:00-05:00",
                                      ended_at="2026-11-26T23:30:20-05:00")), now=NOW)  # fmt: skip
    assert business_day(cdr.dialed_at, NEW_YORK) == date(2026, 11, 26)
    assert business_day(cdr.dialed_at, SHANGHAI) == date(2026, 11, 27)


def test_rates_and_their_empty_cases() -> None:
    assert connect_rate(10, 100) == 0.1 and connect_rate(0, 0) is None
    assert average_handle_time(300, 60, 3) == 120 and average_handle_time(0, 0, 0) is None
    assert abandon_rate(3, 97) == 0.03 and abandon_rate(0, 0) is None
    assert price_control(90, 100) == 0.9 and price_control(5, 0) is None


def test_contribution_arithmetic() -> None:
    a, b = Contribution(dials=2, revenue=5), Contribution(dials=1, connects=1)
    assert a + b - b == a


def test_every_reader_derives_its_columns_from_the_counter_spec() -> None:
    from schemas.kpis import KPI_COUNTERS
    from sinks.clickhouse.calls import COLUMNS
    from sinks.clickhouse.ddl import STATEMENTS

    calls_ddl = STATEMENTS[0]
    for counter in KPI_COUNTERS:
        assert counter.column in COLUMNS, counter
        assert f"{counter.column:<15} {counter.column_type}" in calls_ddl, counter
        rep_day = next(statement for statement in STATEMENTS if "VIEW rep_day" in statement)
        assert f"AS {counter.sum_alias}" in rep_day, counter


def test_targets_name_only_kpi_counters_in_their_period() -> None:
    from schemas.kpis import KPI
    from schemas.targets import METRIC_KEYS

    for period, metric in METRIC_KEYS:
        assert metric in KPI, metric
        assert period == "day" or KPI[metric].monthly, (period, metric)


@pytest.mark.parametrize("value", [0, 1, 129900, -5, 10**15 + 7])
def test_reported_values_come_back_exactly(value: int) -> None:
    from schemas.kpis import KPI_COUNTERS

    for counter in KPI_COUNTERS:
        assert counter.unreported(counter.reported(value)) == value


def test_money_is_reported_as_an_exact_decimal_string() -> None:
    from schemas.kpis import KPI

    assert KPI["revenue"].reported(129905) == "1299.05"
    assert KPI["revenue"].reported(-5) == "-0.05"
    assert KPI["revenue"].exported(129905) == 1299.05
    assert KPI["dials"].reported(3) == 3
