"""What the chaos scenarios share beyond tests/support: clean-up, background producing,
draining, reports and the truth of hand-made traffic.

Everything here talks to the real services the suite starts (Tansu, ``callfloor
clickhouse``, ``callfloor worker``); nothing is mocked.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.cdr import CDR, DEFAULT_RULES, CdrRules, parse_cdr
from schemas.kpis import COUNTER_NAMES, business_day, contribution, reported_counters
from schemas.rejections import CDRRejected
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from tests.support.cli import report
from tests.support.kafka import Sent, lag, lag_by_partition
from tests.support.processes import Worker
from tests.support.waiting import wait_for

FIGURES: list[str] = []  # CHAOS lines of this session, printed again in the terminal summary


def chaos_line(scenario: str, **figures: object) -> str:
    """``CHAOS scenario=... key=value ...``: one parseable line per scenario, for the docs."""
    line = " ".join([f"CHAOS scenario={scenario}", *(f"{k}={v}" for k, v in figures.items())])
    FIGURES.append(line)
    print(line, flush=True)
    return line


def wait_equal(
    get: Callable[[], Any], expected: Any, timeout_s: float, what: str, every_s: float = 0.5
) -> None:
    """Poll until ``get()`` equals ``expected``; on timeout show how the last value differed."""
    last: list[Any] = [None]

    def same() -> bool:
        last[0] = get()
        return last[0] == expected

    try:
        wait_for(same, timeout_s, what, every_s)
    except AssertionError as exc:
        if isinstance(expected, Mapping) and isinstance(last[0], Mapping):
            diff = differences(expected, last[0])
            raise AssertionError(f"{exc}; {len(diff)} differ, e.g. {diff[:5]}") from None
        raise AssertionError(f"{exc}; last value {last[0]!r}") from None


# ---------------------------------------------------------------- processes


@dataclass
class Processes:
    """Everything a scenario started; the fixture stops it all, whatever happened."""

    started: list[Any] = field(default_factory=list)

    def add(self, thing: Any) -> Any:
        self.started.append(thing)
        return thing

    def defer(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` at clean-up (e.g. stop a background producer)."""
        self.started.append(type("Deferred", (), {"stop": staticmethod(fn)})())

    def stop_all(self) -> None:
        """Stop in reverse order of starting; workers started one after another are stopped
        together (each gets its SIGTERM at once), as an orchestrator scales a group down."""
        for batch in _batches(reversed(self.started)):
            with ThreadPoolExecutor(len(batch)) as pool:
                for thing in batch:
                    pool.submit(_stop_quietly, thing)


def _stop_quietly(thing: Any) -> None:
    with contextlib.suppress(Exception):  # clean up the rest regardless
        thing.stop()


def _batches(things: Iterable[Any]) -> Iterator[list[Any]]:
    """Runs of consecutive workers as one batch each; anything else alone."""
    batch: list[Any] = []
    for thing in things:
        if batch and not (isinstance(thing, Worker) and isinstance(batch[-1], Worker)):
            yield batch
            batch = []
        batch.append(thing)
    if batch:
        yield batch


# ---------------------------------------------------------------- Kafka


class BackgroundProducer(threading.Thread):
    """Runs ``produce`` in a thread so faults can be injected while CDRs flow."""

    def __init__(self, produce: Callable[[threading.Event], Any]) -> None:
        super().__init__(name="chaos-producer", daemon=True)
        self._produce = produce
        self.stop_event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._produce(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 - re-raised by outcome()
            self.error = exc

    def outcome(self, timeout_s: float) -> Any:
        self.join(timeout_s)
        if self.is_alive():
            self.stop_event.set()
            raise AssertionError(f"the producer did not finish in {timeout_s:.0f}s")
        if self.error is not None:
            raise self.error
        return self.result


def cdr_lag(settings: Settings) -> int:
    return lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic)


def wait_drained(settings: Settings, timeout_s: float, workers: Iterable[Worker] = ()) -> None:
    """Until every offset of the CDR topic is committed; fails at once if a worker died."""
    workers = list(workers)

    def drained() -> bool:
        for worker in workers:
            assert worker.alive(), f"worker exited (code {worker.process.returncode}); log {worker.log_path}"
        return cdr_lag(settings) == 0

    def behind() -> str:
        lags = lag_by_partition(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic)
        return "uncommitted by partition: " + str({p: n for p, n in sorted(lags.items()) if n})

    wait_for(drained, timeout_s, "the group to commit every offset", every_s=1.0, progress=behind)


def group_generations(log: str) -> list[int]:
    """Generations the worker joined, from aiokafka's 'Joined group ... (generation N)' lines."""
    return [int(g) for g in re.findall(r"Joined group '[^']*' \(generation (\d+)\)", log)]


# ---------------------------------------------------------------- ClickHouse and reports


def query(settings: Settings, sql: str, parameters: dict | None = None) -> list[tuple]:
    with connect(settings) as client:
        return client.query(sql, parameters=parameters).result_rows


def stored_calls(settings: Settings) -> tuple[int, int]:
    """(distinct calls as payroll counts them, physical rows including replayed copies)."""
    ((final,),) = query(settings, "SELECT count() FROM calls FINAL")
    ((physical,),) = query(settings, "SELECT count() FROM calls")
    return int(final), int(physical)


def written_max_offsets(settings: Settings) -> dict[int, int]:
    rows = query(settings, "SELECT kafka_partition, max(kafka_offset) FROM calls GROUP BY kafka_partition")
    return {int(p): int(o) for p, o in rows}


def keyed(rows: Iterable[Mapping[str, Any]], key: str = "rep_id") -> dict[tuple[str, str], dict]:
    return {(row["business_day"], row[key]): dict(row) for row in rows}


def differences(expected: Mapping, actual: Mapping) -> list[str]:
    """Human-readable differences between two keyed reports (empty when equal)."""
    out = []
    for k in sorted(set(expected) | set(actual)):
        if expected.get(k) != actual.get(k):
            out.append(f"{k}: expected {expected.get(k)} got {actual.get(k)}")
    return out


# ---------------------------------------------------------------- truth for hand-made traffic


@dataclass
class Expected:
    """What hand-made traffic must give: winning version per call, rows per (day, rep)."""

    winners: dict[str, tuple[Sent, CDR]]
    rows: dict[tuple[str, str], dict[str, Any]]
    rejected: list[tuple[Sent, str]]


def expected_from(sent: Iterable[Sent], zone: ZoneInfo, valid_call_seconds: int = 30,
                  now: datetime | None = None, rules: CdrRules = DEFAULT_RULES) -> Expected:  # fmt: skip
    """The documented rule, applied independently: highest version wins; among equal
    versions, the first received (lowest Kafka offset) wins. Hand-made traffic keeps
    each call_id on one key, so offsets of a call are comparable."""
    winners: dict[str, tuple[Sent, CDR]] = {}
    rejected = []
    for record in sent:
        try:
            cdr = parse_cdr(record.value or b"", now=now, rules=rules)
        except CDRRejected as exc:
            rejected.append((record, exc.reason.value))
            continue
        held = winners.get(cdr.call_id)
        if held is None or (cdr.version, -record.offset) > (held[1].version, -held[0].offset):
            winners[cdr.call_id] = (record, cdr)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(COUNTER_NAMES))
    teams: dict[tuple[str, str], tuple[datetime, str]] = {}
    for _record, cdr in winners.values():
        key = (business_day(cdr.dialed_at, zone).isoformat(), cdr.rep_id)
        for i, value in enumerate(contribution(cdr, valid_call_seconds).as_tuple()):
            sums[key][i] += value
        if key not in teams or cdr.dialed_at >= teams[key][0]:
            teams[key] = (cdr.dialed_at, cdr.team_id)
    rows = {}
    for (day, rep), counts in sums.items():
        labels = {"business_day": day, "rep_id": rep, "team_id": teams[(day, rep)][1]}
        rows[(day, rep)] = {**labels, **reported_counters(tuple(counts))}
    return Expected(winners, rows, rejected)


def day_span(rows: Mapping[tuple[str, str], Any]) -> tuple[str, str]:
    days = sorted(day for day, _ in rows)
    return days[0], days[-1]


# ---------------------------------------------------------------- /metrics


def as_gauges(row: Mapping[str, Any]) -> dict[str, float]:
    """A report row as /metrics shows it (revenue in currency units, counters as floats)."""
    return {name: float(row[name]) for name in COUNTER_NAMES}


def today_from_clickhouse(settings: Settings, today: str) -> dict[str, dict[str, float]]:
    """rep -> today's values as ClickHouse (calls FINAL) has them."""
    return {rep: as_gauges(row) for (_day, rep), row in keyed(report(settings, today, today)).items()}
