"""Scenario 6: clock and calendar, in ``America/New_York`` (CALLFLOOR_TIMEZONE).

Calls around local midnight (given in local, UTC and Shanghai offsets), across the
25-hour day of 2026-11-01 (01:00-02:00 happens twice; 23:30 local is 04:30Z the next
UTC day), the 23-hour day of 2026-03-08, and the month end Oct 31 -> Nov 1. The expected
business day and hour of every call is written out by hand below (not computed by the
code under test); each call must land there in ClickHouse, in ``callfloor report`` and in
the month-to-date read, and none of these past days may show on the live "today" gauges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from schemas.settings import Settings
from sinks.clickhouse.client import connect
from sinks.clickhouse.reads import month_to_date
from streams.topics import ensure_topics
from tests.chaos.cdrs import cdr, message
from tests.chaos.harness import Processes, chaos_line, differences, expected_from, keyed, query, wait_drained
from tests.support.cli import report
from tests.support.kafka import send_all
from tests.support.processes import Worker
from tests.support.scrape import rep_day_actuals
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

ZONE = "America/New_York"
# call_id, dialed_at as the dialer sent it, expected business day and hour in New York
CALLS: tuple[tuple[str, str, str, int], ...] = (
    ("mid-local-before", "2026-11-20T23:59:59.999-05:00", "2026-11-20", 23),
    ("mid-local-at", "2026-11-21T00:00:00.000-05:00", "2026-11-21", 0),
    ("mid-utc-before", "2026-11-21T04:59:59.999+00:00", "2026-11-20", 23),
    ("mid-utc-at", "2026-11-21T05:00:00.000Z", "2026-11-21", 0),
    ("mid-shanghai-before", "2026-11-21T12:59:59.000+08:00", "2026-11-20", 23),
    ("mid-shanghai-at", "2026-11-21T13:00:00.000+08:00", "2026-11-21", 0),
    ("mid-crossing", "2026-11-20T23:59:30.000-05:00", "2026-11-20", 23),  # ends after midnight
    ("oct-last", "2026-10-31T23:59:59.999-04:00", "2026-10-31", 23),
    ("oct-last-utc", "2026-11-01T03:59:59.000Z", "2026-10-31", 23),
    ("oct-last-shanghai", "2026-11-01T11:59:59.000+08:00", "2026-10-31", 23),
    ("nov-first", "2026-11-01T00:00:00.000-04:00", "2026-11-01", 0),
    ("dst-0130-edt", "2026-11-01T01:30:00.000-04:00", "2026-11-01", 1),
    ("dst-0130-est", "2026-11-01T01:30:00.000-05:00", "2026-11-01", 1),
    ("dst-0230-est", "2026-11-01T02:30:00.000-05:00", "2026-11-01", 2),
    ("dst-2330-est-as-utc", "2026-11-02T04:30:00.000Z", "2026-11-01", 23),  # -04:00 would say Nov 2
    ("dst-last", "2026-11-01T23:59:59.999-05:00", "2026-11-01", 23),
    ("dst-next", "2026-11-02T00:00:00.000-05:00", "2026-11-02", 0),
    ("dst-next-utc", "2026-11-02T05:00:00.000Z", "2026-11-02", 0),
    ("spring-0159-est", "2026-03-08T01:59:59.000-05:00", "2026-03-08", 1),
    ("spring-0300-edt", "2026-03-08T03:00:00.000-04:00", "2026-03-08", 3),
    ("spring-prev-utc", "2026-03-08T04:59:59.000Z", "2026-03-07", 23),
    ("spring-last-utc", "2026-03-09T03:59:59.000Z", "2026-03-08", 23),
)
REPS = ("cal-rep-1", "cal-rep-2")


@pytest.mark.chaos_timeout(90)
def test_calls_land_in_their_business_day_and_month(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path
) -> None:
    settings = make_settings(timezone=ZONE, late_horizon_days=36_500)  # fixed dates, however late the run
    ensure_topics(settings)
    events, revenue_by_month = [], Counter[tuple[str, str]]()
    for i, (call_id, dialed, day, _hour) in enumerate(CALLS):
        rep = REPS[i % 2]
        cents = (i + 1) * 100
        event = cdr(call_id, datetime.fromisoformat(dialed), rep=rep, shape="sale", cents=cents,
                    talk=400 if call_id == "mid-crossing" else 60)  # fmt: skip
        event["dialed_at"] = dialed  # exactly as written above (offset and precision)
        events.append(message(event))
        revenue_by_month[(rep, day[:7])] += cents
    sent = send_all(settings.kafka_bootstrap, settings.cdr_topic, events)
    worker = procs.add(Worker(settings, scenario_logs / "worker.log")).start()
    wait_drained(settings, 60, [worker])

    stored = {cid: (d.isoformat(), int(h)) for cid, d, h in
              query(settings, "SELECT call_id, business_day, business_hour FROM calls FINAL")}  # fmt: skip
    expected_calls = {cid: (day, hour) for cid, _dialed, day, hour in CALLS}
    misplaced = sorted(cid for cid in expected_calls if stored.get(cid) != expected_calls[cid])

    expected = expected_from(sent, settings.zone, settings.valid_call_seconds, rules=settings.cdr_rules)
    got = keyed(report(settings, "2026-03-01", "2026-11-30"))
    per_day = Counter(day for _cid, _dialed, day, _hour in CALLS)
    got_per_day = Counter({day: 0 for day in per_day})
    for (day, _rep), row in got.items():
        got_per_day[day] += row["dials"]

    with connect(settings) as client:
        november = month_to_date(client, date(2026, 11, 1), date(2026, 12, 1))
        october = month_to_date(client, date(2026, 10, 1), date(2026, 11, 1))
    months_ok = all(
        (month.get(rep, (0, 0, 0))[1]) == revenue_by_month[(rep, label)]
        for month, label in ((november, "2026-11"), (october, "2026-10"))
        for rep in REPS
    )

    wait_for(lambda: rep_day_actuals(settings.web_port) is not None, 30, "/metrics to answer")
    live = rep_day_actuals(settings.web_port) or {}
    chaos_line("calendar", events=len(sent), faults="dst25h+dst23h+midnight+month_end", zone=ZONE,
               misplaced=len(misplaced), lost=len(expected_calls.keys() - stored.keys()),
               double=len(stored.keys() - expected_calls.keys()),
               mismatched_rows=len(differences(expected.rows, got)))  # fmt: skip
    assert misplaced == [], {cid: (stored.get(cid), expected_calls[cid]) for cid in misplaced}
    assert dict(got_per_day) == dict(per_day)
    assert differences(expected.rows, got) == []
    assert months_ok, (october, november, revenue_by_month)
    assert not set(live) & set(REPS), "past days must not show on today's gauges"
