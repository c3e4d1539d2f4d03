"""Scenario 5 (and the end-to-end SQL-injection check): hostile input never stops the floor.

Hypothesis generates (derandomized, so every run sends the same shapes) 20 hostile
messages of each of 17 kinds: random bytes, invalid UTF-8, broken JSON, non-objects,
wrong types, missing and extra fields, huge strings, messages over 64 KiB, timestamps
far in the past and the future, negative and absurd durations, NaN/Infinity amounts,
time-order and talk mismatches; plus 1 MiB messages and tombstones. They are shuffled
among valid CDRs whose reps are hostile text (SQL, quotes, newlines, CJK, emoji).

Every hostile message must end in ``<topic>.dlq`` byte for byte, with a reason from the
closed set (and one the contract allows for its kind) and its source partition and
offset; the worker must never exit or restart; the valid CDRs around them are counted
exactly in ClickHouse and on /metrics.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import Any

import orjson
import pytest

from schemas.kpis import business_day
from schemas.rejections import Rejection
from schemas.settings import Settings
from streams.topics import ensure_topics
from tests.chaos.conftest import hard_limit
from tests.chaos.harness import (
    Expected,
    Processes,
    chaos_line,
    day_span,
    differences,
    expected_from,
    keyed,
    query,
    today_from_clickhouse,
    wait_drained,
    wait_equal,
)
from tests.chaos.hostile import KINDS, draw_examples, hostile, one_mib_messages, valid_cdrs
from tests.support.cli import report
from tests.support.kafka import Sent, read_topic, send_all
from tests.support.processes import Worker
from tests.support.scrape import rep_day_actuals

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

PER_KIND = 20
VALID = 300
INJECTION = "x'); DROP TABLE calls; --"
# valid, if hostile, rep ids (a tab or newline in an id is bad_identifier since issue 10)
REPS = ("plain-rep", INJECTION, "销售-张三", 'quote"back\\slash', "${jndi:x}", "emoji-📞", "a{b=\"c\"}")
CLOSED_SET = {reason.value for reason in Rejection}


def same_message(kept: bytes, headers: dict[str, str], original: bytes) -> bool:
    """The DLQ keeps the original bytes; a message too big to republish keeps its head,
    its size and its sha256 (docs/develop/architecture.md: dead letters)."""
    if headers.get("truncated") != "true":
        return kept == original
    return (original.startswith(kept) and headers["original_size"] == str(len(original))
            and headers["original_sha256"] == hashlib.sha256(original).hexdigest())  # fmt: skip


@dataclass
class HostileRun:
    settings: Settings
    worker: Worker
    sent_hostile: list[tuple[Sent, str, frozenset[str] | None]]
    expected: Expected
    letters: dict[tuple[int, int], Any]


@pytest.fixture(scope="module")
def run(
    make_settings: Callable[..., Settings], module_procs: Processes, module_logs: Path
) -> Iterator[HostileRun]:
    with hard_limit(150, "the hostile-input run"):
        settings = make_settings()
        ensure_topics(settings)
        now = datetime.now(UTC)
        bad = [b for kind in KINDS for b in draw_examples(hostile(now=now, kind=kind), PER_KIND)]
        bad += one_mib_messages(now)
        bad += [("tombstone", None, frozenset({"invalid_json"}))] * 2
        good = draw_examples(valid_cdrs(now=now, reps=REPS, zone=settings.zone), VALID)
        good = [event | {"call_id": f"ok-{i}", "version": 1} for i, event in enumerate(good)]
        items: list[tuple[str, bytes | None, bytes | None, frozenset[str] | None]] = [
            (kind, b"hostile-key", raw, allowed) for kind, raw, allowed in bad
        ] + [("valid", event["rep_id"].encode(), orjson.dumps(event), None) for event in good]
        Random(5).shuffle(items)
        sent = send_all(settings.kafka_bootstrap, settings.cdr_topic, [(k, v) for _, k, v, _ in items])

        worker = module_procs.add(Worker(settings, module_logs / "worker.log")).start()
        wait_drained(settings, 120, [worker])
        hostile_sent = [(s, kind, allowed) for s, (kind, *_, allowed) in zip(sent, items, strict=True)
                        if kind != "valid"]  # fmt: skip
        valid_sent = [s for s, item in zip(sent, items, strict=True) if item[0] == "valid"]
        letters = {}
        for record in read_topic(settings.kafka_bootstrap, settings.dlq_topic):
            headers = dict(record.headers)
            letters[(int(headers["source_partition"]), int(headers["source_offset"]))] = record
        yield HostileRun(settings, worker, hostile_sent, expected_from(valid_sent, settings.zone), letters)


def test_every_hostile_message_is_dead_lettered_and_the_worker_stays_up(run: HostileRun) -> None:
    worker, settings = run.worker, run.settings
    assert worker.alive() and worker.starts == 1, "the worker must neither exit nor be restarted"
    log = worker.log()
    crashes = [line[:400] for line in log.splitlines() if "Crashed reason=" in line]
    signs = [s for s in ("Traceback", "Crashed", "unexpected error validating", "Restarting") if s in log]

    missing, wrong_bytes, wrong_reason, bad_headers = [], [], [], []
    reasons: Counter[str] = Counter()
    for sent, kind, allowed in run.sent_hostile:
        letter = run.letters.get((sent.partition, sent.offset))
        if letter is None:
            missing.append((kind, sent.partition, sent.offset, (sent.value or b"")[:80]))
            continue
        headers = {k: v.decode() for k, v in letter.headers}
        reasons[headers["reason"]] += 1
        if not same_message(letter.value or b"", headers, sent.value or b""):
            wrong_bytes.append((kind, sent.offset))
        if headers["reason"] not in CLOSED_SET or (allowed is not None and headers["reason"] not in allowed):
            wrong_reason.append((kind, headers["reason"], headers["detail"][:100], (sent.value or b"")[:120]))
        source_ok = headers.get("source_topic") == settings.cdr_topic and letter.key == sent.key
        if not source_ok or not headers.get("detail"):
            bad_headers.append((kind, headers))
    stray = len(run.letters) - (len(run.sent_hostile) - len(missing))
    chaos_line("hostile_input", events=len(run.sent_hostile) + len(run.expected.winners),
               faults=f"{len(run.sent_hostile)}xhostile", kinds=len(KINDS) + 2,
               dead_lettered=len(run.sent_hostile) - len(missing), lost=len(missing),
               wrong_reason=len(wrong_reason), valid_in_dlq=stray, worker_restarts=worker.starts - 1,
               agent_crashes=len(crashes),
               reasons="/".join(f"{r}:{n}" for r, n in sorted(reasons.items())))  # fmt: skip
    assert missing == [], f"{len(missing)} hostile messages are not in the DLQ: {missing[:5]}"
    assert wrong_bytes == [], f"DLQ values differ from the original bytes: {wrong_bytes[:5]}"
    assert wrong_reason == [], f"unexpected reasons: {wrong_reason[:5]}"
    assert bad_headers == [], bad_headers[:3]
    assert stray == 0, "valid CDRs must not be dead-lettered"
    assert not signs, f"{signs} in the worker log {worker.log_path}: {crashes[:2]}"


def test_valid_cdrs_among_hostile_ones_are_counted_exactly(run: HostileRun) -> None:
    settings, expected = run.settings, run.expected
    assert not expected.rejected and len(expected.winners) == VALID
    first, last = day_span(expected.rows)
    got = keyed(report(settings, first, last))
    stored = {cid for (cid,) in query(settings, "SELECT call_id FROM calls FINAL")}
    chaos_line("hostile_input_valid", events=VALID, lost=len(expected.winners.keys() - stored),
               double=len(stored - expected.winners.keys()),
               mismatched_rows=len(differences(expected.rows, got)))  # fmt: skip
    assert stored == expected.winners.keys()
    assert differences(expected.rows, got) == []
    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    wait_equal(lambda: rep_day_actuals(settings.web_port), today_from_clickhouse(settings, today), 20,
               "/metrics (hostile rep labels included) to equal ClickHouse for today")  # fmt: skip


def test_sql_in_a_rep_id_is_stored_and_reported_as_text(run: HostileRun) -> None:
    settings, expected = run.settings, run.expected
    mine = [key for key in expected.rows if key[1] == INJECTION]
    assert mine, "the scenario sends calls for the injection rep"
    tables = {name for (name,) in query(settings, "SHOW TABLES")}
    assert {"calls", "rep_day", "rep_hour"} <= tables
    ((stored,),) = query(settings, "SELECT count() FROM calls FINAL WHERE rep_id = {rep:String}",
                         {"rep": INJECTION})  # fmt: skip
    assert stored == sum(1 for _, cdr in expected.winners.values() if cdr.rep_id == INJECTION)
    first, last = day_span(expected.rows)
    got = keyed(report(settings, first, last))
    assert {key: got.get(key) for key in mine} == {key: expected.rows[key] for key in mine}
    by_team = report(settings, first, last, "team")
    assert sum(r["dials"] for r in by_team) == sum(r["dials"] for r in expected.rows.values())
