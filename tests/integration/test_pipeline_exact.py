"""End to end on the real broker and the real ClickHouse engine: the report equals the truth.

50 reps x 20,000 calls over 3 days, with duplicates, corrections (some before the
version they correct), bad events and late events; after the worker drains, every
(business_day, rep) row of ``callfloor report`` equals the simulator's truth, and every
bad event sits in the dead-letter topic, byte for byte, with the right reason.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from schemas.settings import Settings
from simulator import SimulationSpec, Truth, produce
from streams.topics import ensure_topics
from tests.support.cli import report
from tests.support.kafka import lag, read_topic
from tests.support.processes import running_worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

SPEC = SimulationSpec(reps=50, calls=20_000, days=3, seed=7, duplicates=0.02, corrections=0.02,
                      bad=0.01, late=0.01)  # fmt: skip


def truth_days(truth: Truth) -> tuple[str, str]:
    days = sorted({row["business_day"] for row in truth.calls.values()})
    return days[0], days[-1]


def test_report_equals_truth_and_bad_events_are_dead_lettered(
    settings: Settings, worker_log: Path
) -> None:
    ensure_topics(settings)
    truth = produce(SPEC, settings)
    assert truth.kinds["duplicate"] > 0 and truth.kinds["correction"] > 0
    assert truth.kinds["bad"] > 0 and truth.kinds["late"] > 0
    first, last = truth_days(truth)
    expected = sorted(truth.calls.values(), key=lambda r: (r["business_day"], r["rep_id"]))

    with running_worker(settings, worker_log) as worker:
        wait_for(lambda: lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic) == 0,
                   300, f"the worker to commit every offset (log: {worker_log})", every_s=2)  # fmt: skip
        assert worker.alive(), "the worker must not have exited"

    assert report(settings, first, last) == expected

    letters = read_topic(settings.kafka_bootstrap, settings.dlq_topic)
    reasons = Counter(dict(r.headers)["reason"].decode() for r in letters)
    assert reasons == Counter(truth.rejects)
    stored = {(r.value, dict(r.headers)["reason"].decode()) for r in letters}
    for bad in truth.bad:
        assert (base64.b64decode(bad["value_b64"]), bad["reason"]) in stored
    for record in letters:
        headers = dict(record.headers)
        assert headers["source_topic"].decode() == settings.cdr_topic
        assert int(headers["source_offset"]) >= 0 and headers["detail"]


def test_report_by_team_and_campaign_sum_to_the_same_totals(settings: Settings, worker_log: Path) -> None:
    ensure_topics(settings)
    spec = SimulationSpec(reps=12, calls=3_000, days=2, seed=3, duplicates=0.05, corrections=0.05)
    truth = produce(spec, settings)
    first, last = truth_days(truth)
    with running_worker(settings, worker_log):
        wait_for(lambda: lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic) == 0,
                   180, "the worker to drain", every_s=2)  # fmt: skip
    by_campaign = report(settings, first, last, "campaign")
    expected_campaigns = sorted(truth.campaigns.values(),
                                key=lambda r: (r["business_day"], r["campaign_id"]))  # fmt: skip
    assert by_campaign == expected_campaigns
    by_team = report(settings, first, last, "team")
    assert sum(r["dials"] for r in by_team) == truth.totals["dials"]
    assert {r["business_day"] for r in by_team} <= {first, last} and date.fromisoformat(first)
