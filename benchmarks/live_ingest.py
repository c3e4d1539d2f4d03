"""How long from a dialer's CDR to ``/metrics`` through the live feeds, beside producing directly?

One worker on its own broker and ClickHouse (``harness.Stack``), scraped every
``--scrape-every`` s (``latency.MetricsWatcher``: the k-th outbound call of a rep is visible
at the first scrape whose dials for that rep reach k). Three kinds of calls, each on reps of
their own so their counts do not mix, one after another in the same run:

1. baseline: simulated CDRs produced with kafka-python at ``--rate`` (``latency.produce_paced``);
2. ``callfloor ingest --listen``: the same kind of calls as FreeSWITCH ``mod_json_cdr``
   documents, POSTed by ``--senders`` concurrent HTTP clients (keep-alive, as curl in
   FreeSWITCH) at ``--push-rate`` in total; the clock starts before the POST;
3. ``callfloor ingest --format vicidial-db``: rows INSERTed into ``vicidial_log`` of a real
   MariaDB at ``--db-rate``, polled every ``--poll`` s; the clock starts when the INSERT has
   returned (autocommit: the row is there for any reader).

Prints p50 / p99 / max seconds per path as JSON lines, with the POSTs' statuses.

    .venv/bin/python -m benchmarks.live_ingest --push-rate 500 --senders 20 --seconds 20
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from datetime import datetime
from urllib.parse import urlencode

import orjson
from pydantic import SecretStr

from benchmarks.harness import Stack, conditions, emit, main_guard, note, sink_overrides, wait_assigned
from benchmarks.latency import (
    MetricsWatcher,
    Prepared,
    add_latency_arguments,
    metrics_latencies,
    percentiles,
    produce_paced,
    simulate,
)
from deploy.local.broker import wait_for_port
from deploy.local.processes import callfloor_command
from schemas.settings import Settings
from simulator import SimulationSpec
from simulator.model import daytime_zone
from streams.topics import ensure_topics
from tests.support.mariadb import PASSWORD, MariaDB
from tests.support.ports import free_port
from tests.support.processes import cpu_seconds
from tests.support.waiting import wait_for

Sent = list[tuple[str, str, bool, float]]  # call_id, rep_id, outbound, sent_at (as latency.produce_paced)
CAUSES = {
    "no_answer": "NO_ANSWER",
    "busy": "USER_BUSY",
    "failed": "CALL_REJECTED",
    "congestion": "NORMAL_CIRCUIT_CONGESTION",
}
VICIDIAL_STATUS = {
    "answered": "NI",
    "voicemail": "AA",
    "abandoned": "DROP",
    "busy": "B",
    "no_answer": "NA",
    "failed": "DC",
    "congestion": "NA",
}
INSERT = (
    "INSERT INTO vicidial_log (uniqueid, lead_id, list_id, campaign_id, call_date, start_epoch, end_epoch, "
    "length_in_sec, status, phone_code, phone_number, user, comments, processed, user_group) VALUES "
    "(%s, %s, 101, %s, FROM_UNIXTIME(%s), %s, %s, %s, %s, '1', '13900000000', %s, '', 'N', %s)"
)


def _epoch(stamp: str | None) -> int:
    return int(datetime.fromisoformat(stamp).timestamp()) if stamp else 0


def mod_json_cdr(cdr: dict, rep: str) -> bytes:
    """A simulated CDR as FreeSWITCH's mod_json_cdr posts it (``encode`` true: ``cdr=`` form)."""
    start, answer, end = _epoch(cdr["dialed_at"]), _epoch(cdr["answered_at"]), _epoch(cdr["ended_at"])
    variables = {
        "uuid": cdr["call_id"],
        "rep_id": rep,
        "team_id": cdr["team_id"],
        "campaign_id": cdr["campaign_id"],
        "start_epoch": str(start),
        "answer_epoch": str(answer),
        "end_epoch": str(end),
        "billsec": str(end - answer if answer else 0),
        "hangup_cause": "NORMAL_CLEARING" if answer else CAUSES.get(cdr["disposition"], "NO_ANSWER"),
    }
    if cdr["amd"]:
        variables["amd_result"] = cdr["amd"].upper()
    document = {"core-uuid": "bench", "switchname": "bench", "variables": variables}
    return urlencode({"cdr": orjson.dumps(document)}).encode()


def push(
    port: int, prepared: Prepared, rate: float, senders: int
) -> tuple[Sent, dict[int, int], list[float]]:
    """POST each document by ``senders`` threads, paced together at ``rate``; (sent, status counts,
    each POST's round trip: the dialer's wait for its 200)."""
    bodies = [
        (mod_json_cdr(orjson.loads(value), f"push-{rep}"), call_id, f"push-{rep}")
        for _, value, call_id, rep, _ in prepared
    ]
    sent: Sent = []
    statuses: dict[int, int] = {}
    round_trips: list[float] = []
    lock = threading.Lock()
    started = time.monotonic() + 0.1

    def sender(first: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            for i in range(first, len(bodies), senders):
                time.sleep(max(0.0, started + i / rate - time.monotonic()))
                body, call_id, rep = bodies[i]
                at = time.time()
                connection.request("POST", "/cdr", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                waited = time.time() - at
                with lock:
                    round_trips.append(waited)
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                    sent.append((call_id, rep, True, at))  # mod_json_cdr calls map as outbound
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(sent, key=lambda s: s[3]), statuses, round_trips


def insert_rows(db: MariaDB, prepared: Prepared, rate: float) -> Sent:
    """INSERT a vicidial_log row per call at ``rate``; the clock starts when the INSERT returned."""
    sent: Sent = []
    started = time.monotonic()
    with db.connect(root=True) as connection, connection.cursor() as cursor:
        for i, (_, value, _call_id, rep, _) in enumerate(prepared):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            cdr = orjson.loads(value)
            # VICIdial writes the row as it places the call: call_date is now, the status comes later
            # (here at once: the benchmark measures the row's arrival, not a status change)
            start = int(time.time())
            end = start + _epoch(cdr["ended_at"]) - _epoch(cdr["dialed_at"])
            uniqueid = f"{start}.{i}"
            status = "SALE" if cdr["outcome"] == "sale" else VICIDIAL_STATUS[cdr["disposition"]]
            cursor.execute(
                INSERT,
                (
                    uniqueid,
                    i + 1,
                    cdr["campaign_id"][:8],
                    start,
                    start,
                    end,
                    cdr["talk_seconds"],
                    status,
                    f"db-{rep}",
                    cdr["team_id"],
                ),
            )
            sent.append((f"vd-{uniqueid}", f"db-{rep}", True, time.time()))
    return sent


def until_visible(watcher: MetricsWatcher, sent: Sent, what: str, timeout_s: float = 120) -> None:
    reps = {rep for _, rep, outbound, _ in sent if outbound}

    def shown() -> int:
        return sum(watcher.seen[rep][-1][1] for rep in reps if watcher.seen.get(rep))

    expected = sum(1 for s in sent if s[2])
    wait_for(lambda: shown() >= expected, timeout_s, what, progress=lambda: f"{shown():,}/{expected:,} dials")


def run(args: argparse.Namespace) -> None:
    zone = daytime_zone()  # today's gauges are compared: run where it is mid-afternoon

    def spec(seed: int, rate: float) -> SimulationSpec:
        return SimulationSpec(reps=args.reps, calls=0, live=True, rate=rate, seed=seed, timezone=zone)

    with Stack("live_ingest", partitions=args.partitions) as stack:
        settings: Settings = stack.settings(
            "live",
            timezone=zone,
            ingest_poll_seconds=args.poll,
            ingest_db_password=SecretStr(PASSWORD),
            **sink_overrides(args),
        )
        ensure_topics(settings)
        worker = stack.worker(settings)
        waited = wait_assigned([worker], args.partitions)
        note(f"worker holds all {args.partitions} partitions after {waited:.1f}s")
        db = MariaDB(stack.dir / "mariadb", stack.dir / "mariadb.log")
        db.path.mkdir()
        db.start()
        watcher = MetricsWatcher(settings.web_port, args.scrape_every)
        watcher.start()
        try:
            db.load_schema("vicidial.sql")
            port = free_port()
            listener = stack.start(
                "listen",
                callfloor_command(
                    "ingest", "--no-progress", "--listen", f"127.0.0.1:{port}", "--format", "freeswitch-json"
                ),
                settings,
            )
            stack.start(
                "vicidial-db",
                callfloor_command("ingest", "--no-progress", "--format", "vicidial-db", "--dsn", db.dsn),
                settings,
            )
            wait_for_port("127.0.0.1", port, 60, "callfloor ingest --listen")

            note(f"baseline: producing {args.rate:g} CDR/s for {args.seconds:g}s")
            baseline = produce_paced(
                settings,
                settings.cdr_topic,
                simulate(spec(args.seed, args.rate), args.seconds),
                args.rate,
                args.linger_ms,
            )
            until_visible(watcher, baseline, "the produced calls on /metrics")

            note(f"--listen: {args.senders} senders POSTing {args.push_rate:g} CDR/s for {args.seconds:g}s")
            listener_cpu = cpu_seconds(listener.pid)
            pushed, statuses, round_trips = push(
                port,
                simulate(spec(args.seed + 1, args.push_rate), args.seconds),
                args.push_rate,
                args.senders,
            )
            push_seconds = pushed[-1][3] - pushed[0][3] if len(pushed) > 1 else 0.0
            listener_cpu = cpu_seconds(listener.pid) - listener_cpu
            until_visible(watcher, pushed, "the pushed calls on /metrics")

            note(f"vicidial-db: INSERTing {args.db_rate:g} rows/s for {args.seconds:g}s, poll {args.poll}s")
            rows = insert_rows(db, simulate(spec(args.seed + 2, args.db_rate), args.seconds), args.db_rate)
            until_visible(watcher, rows, "the inserted rows on /metrics")
        finally:
            watcher.finish()
            db.stop()
        worker.check_alive()

        common = conditions(
            seconds=args.seconds,
            warmup_s=args.warmup,
            partitions=args.partitions,
            reps=args.reps,
            scrape_every_s=args.scrape_every,
            linger_ms=args.linger_ms,
            flush_seconds=settings.sink_flush_seconds,
        )

        def figures(sent: Sent) -> dict:
            after = sent[0][3] + args.warmup if sent else 0.0
            return percentiles(metrics_latencies(sent, watcher.seen, after))

        emit(
            "live_ingest",
            "baseline: produce -> /metrics (rep dials)",
            **figures(baseline),
            rate=args.rate,
            **common,
        )
        emit(
            "live_ingest",
            "POST mod_json_cdr to --listen -> /metrics (rep dials)",
            **figures(pushed),
            rate=args.push_rate,
            achieved_rate=round(len(pushed) / max(push_seconds, 1e-9), 1),
            senders=args.senders,
            post_round_trip={k: v for k, v in percentiles(round_trips).items() if k != "n"},
            listener_cpu_ms_per_cdr=round(1000 * listener_cpu / max(1, len(pushed)), 3),
            statuses={str(k): v for k, v in sorted(statuses.items())},
            **common,
        )
        emit(
            "live_ingest",
            "INSERT vicidial_log -> --format vicidial-db -> /metrics (rep dials)",
            **figures(rows),
            rate=args.db_rate,
            poll_s=args.poll,
            **common,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_latency_arguments(parser, "how long each feed sends")
    parser.set_defaults(rate=500.0, seconds=20.0)
    parser.add_argument("--push-rate", type=float, default=500.0, help="CDRs POSTed per second, all senders")
    parser.add_argument("--senders", type=int, default=20, help="concurrent HTTP senders")
    parser.add_argument("--db-rate", type=float, default=100.0, help="vicidial_log rows INSERTed per second")
    parser.add_argument("--poll", type=float, default=0.5, help="the database feed's poll interval (s)")
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
