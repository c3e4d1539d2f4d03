"""``callfloor demo``: the whole pipeline on one machine, with a simulated dialer.

Starts the local broker, the embedded ClickHouse endpoint, applies the schema (``callfloor
migrate``'s step), one worker and the wallboard, and (when Debian's packages are installed)
Prometheus and Alertmanager with the project's rules (``deploy.local.ops``); feeds live
simulated traffic with two incidents (a team that stops dialing for a while, a campaign over
the 3 % abandon line), prints where to look, and prints today's floor totals and every alert
that starts or stops firing until Ctrl-C, which stops everything.
"""

from __future__ import annotations

import signal
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from deploy.local.broker import LocalBroker, wait_for_port
from deploy.local.ops import DemoTiming, OpsLoop, binaries
from deploy.local.processes import callfloor_command, spawn, stop
from payroll.plan import load_plan
from schemas.kpis import business_day
from schemas.served_hosts import http_url
from schemas.settings import Settings
from simulator import SimulationSpec, daytime_zone, produce, roster
from sinks.clickhouse.client import connect, tables_not_made_yet
from sinks.clickhouse.ddl import EXACT_CALLS
from sinks.clickhouse.schema_version import migrate
from streams.topics import ensure_topics

REFRESH_SECONDS = 5.0
EXAMPLE_PLAN = Path(__file__).resolve().parents[1] / "payroll.example.yaml"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(ports: dict[str, tuple[int, str]]) -> None:
    """Stop before starting anything when a port is taken, naming the variable that moves it
    (name -> (port, variable)): 9090, Prometheus' default, is often taken by another one."""
    busy = {name: held for name, held in ports.items() if not _port_free(held[0])}
    if busy:
        raise SystemExit(
            f"callfloor demo: {', '.join(f'{name} port {port}' for name, (port, _) in busy.items())} "
            "already in use (another demo running?). Stop it, or set "
            f"{' / '.join(variable for _, variable in busy.values())} to free ports."
        )


def _port_of(hostport: str, default: int) -> int:
    tail = hostport.rsplit(":", 1)[-1].rstrip("/")
    return int(tail) if tail.isdigit() else default


def waiting_reason(exc: Exception) -> str:
    """What the totals line says before it can be read: tables not made yet (``callfloor
    migrate`` makes them) is not an error worth a class name."""
    if tables_not_made_yet(exc):
        return "waiting for `callfloor migrate` to create the tables"
    return f"waiting for ClickHouse: {type(exc).__name__}"


def _floor_line(settings: Settings) -> str:
    today = business_day(datetime.now(UTC), settings.zone)
    try:
        with connect(settings) as client:
            row = client.query(
                "SELECT count(), sum(dials), sum(connects), sum(valid_connects), sum(sales), "
                f"sum(revenue_cents) FROM {EXACT_CALLS} AND business_day = {{d:Date}}",
                parameters={"d": today},
            ).first_row
    except Exception as exc:  # noqa: BLE001 - the demo keeps going while ClickHouse warms up
        return f"({waiting_reason(exc)})"
    calls, dials, connects, valid, sales, cents = (int(v or 0) for v in row)  # type: ignore[union-attr]  # sums: one row
    return (f"{today}  calls {calls:>7}  dials {dials:>7}  connects {connects:>6}  "
            f"valid {valid:>6}  sales {sales:>4}  revenue {cents / 100:>12,.2f}")  # fmt: skip


def write_demo_targets(path: Path, spec: SimulationSpec, rate: float) -> None:
    """Targets for the simulated floor, scaled to the demo's rate so progress is visible."""
    per_rep_day = max(10, int(rate * 1800 / spec.reps))  # what half an hour of demo traffic reaches
    lines = [
        "version: 1",
        "defaults:",
        f"  daily: {{dials: {per_rep_day}, connects: {per_rep_day // 10}, "
        f"valid_connects: {per_rep_day // 20}, talk_minutes: 120}}",
        '  monthly: {sales: 40, revenue: "60000.00", new_customers: 15}',
        "reps:",
        *(f"  {rep}: {{team: {team}}}" for rep, team in roster(spec)),
    ]
    path.write_text("\n".join(lines) + "\n")


def write_demo_inputs(directory: Path, plan_file: Path, spec: SimulationSpec, today: date) -> None:
    """The ``--inputs`` folder the plan names, for the simulated floor: the roster, so the
    awards panel ranks it, and every other file the plan reads (its csv KPIs, the allowances)
    with a header and no rows, so ``callfloor payroll run --inputs`` this folder works on the
    demo's calls (the demo has no QA scores, collections or allowances)."""
    write_demo_roster(directory, plan_file, spec, today)
    plan = load_plan(plan_file)
    headers = {kpi.file: "rep_id,actual,target" for kpi in plan.doc.kpis.values() if kpi.file}
    if plan.doc.allowances:
        headers[plan.doc.allowances.file] = "rep_id,item,amount"
    for name, header in headers.items():
        (directory / name).write_text(header + "\n")


def write_demo_roster(directory: Path, plan_file: Path, spec: SimulationSpec, today: date) -> None:
    """The roster the plan names, for the simulated floor: every fifth rep hired three weeks
    ago (candidates for a new-hire award), the rest two years ago. A rep whose team is in no
    region of the plan is left out (the board lists them as not on the roster, as payroll
    would refuse their calls)."""
    plan = load_plan(plan_file)
    lines = ["person_id,name,role,from,team,region,hired,left,base"]
    for i, (rep, team) in enumerate(roster(spec)):
        if plan.doc.regions and not plan.region_of(team):
            continue
        hired = today - timedelta(days=21 if i % 5 == 4 else 730)
        lines.append(f"{rep},{rep},rep,,{team},,{hired.isoformat()},,")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / plan.doc.roster.file).write_text("\n".join(lines) + "\n")


def demo_settings(settings: Settings) -> Settings:
    """What the demo changes unless the user set it: a business time zone where it is about
    10:00 now (an hour into the 09:00 shift, so shift-hour alerts can fire at any hour of
    the day), and ClickHouse-backed gauges (the abandon rates) refreshed at the rules' speed."""
    chosen = settings.model_fields_set
    update: dict[str, object] = {}
    if "timezone" not in chosen:
        update["timezone"] = daytime_zone(hour=10)
    if "refresh_seconds" not in chosen:
        update["refresh_seconds"] = max(1.0, settings.refresh_seconds / settings.demo_speedup)
    return settings.model_copy(update=update)


def run_demo(settings: Settings, rate: float = 50.0, reps: int = 40) -> int:
    settings = demo_settings(settings)
    ch_port = _port_of(settings.clickhouse_url, 8123)
    kafka_port = _port_of(settings.kafka_bootstrap, 9092)
    with_ops = all(binaries())
    ops_ports = {
        "Prometheus": (settings.demo_prometheus_port, "CALLFLOOR_DEMO_PROMETHEUS_PORT"),
        "Alertmanager": (settings.demo_alertmanager_port, "CALLFLOOR_DEMO_ALERTMANAGER_PORT"),
    }
    check_ports({"Kafka": (kafka_port, "CALLFLOOR_KAFKA_BOOTSTRAP"),
                 "ClickHouse": (ch_port, "CALLFLOOR_CLICKHOUSE_URL"),
                 "worker web": (settings.web_port, "CALLFLOOR_WEB_PORT"),
                 "wallboard": (settings.wallboard_port, "CALLFLOOR_WALLBOARD_PORT"),
                 **(ops_ports if with_ops else {})})  # fmt: skip
    home = settings.data_dir.resolve()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    broker = LocalBroker(port=kafka_port, log_path=logs / "broker.log")
    clickhouse = worker = wallboard = feeder = None
    ops = OpsLoop(settings, home, logs) if with_ops else None
    if ops is not None and settings.alerts_url is None:
        settings = settings.model_copy(update={"alerts_url": ops.alertmanager_url})
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    timing = DemoTiming(settings.demo_speedup)
    spec = SimulationSpec(reps=reps, calls=0, rate=rate, live=True, late=0.01, duplicates=0.01,
                          corrections=0.01, bad=0.002, timezone=settings.timezone,
                          quiet_team=timing.quiet_team, quiet_after=timing.quiet_after,
                          quiet_for=timing.quiet_for)  # fmt: skip
    if settings.targets_file is None:
        targets = home / "demo-targets.yaml"
        write_demo_targets(targets, spec, rate)
        settings = settings.model_copy(update={"targets_file": targets})
    plan_file = settings.pay_plan_file or EXAMPLE_PLAN  # the commission tiers under each rep's name
    settings = settings.model_copy(update={"pay_plan_file": plan_file})
    if settings.payroll_inputs_dir is None:  # a roster of the simulated reps, for the awards panel
        today = business_day(datetime.now(UTC), settings.zone)
        write_demo_inputs(home / "demo-inputs", plan_file, spec, today)
        settings = settings.model_copy(update={"payroll_inputs_dir": home / "demo-inputs"})
    try:
        print("starting Kafka broker (tansu) ...", flush=True)
        broker.start()
        settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        ensure_topics(settings)
        print("starting embedded ClickHouse ...", flush=True)
        clickhouse = spawn(
            callfloor_command("clickhouse", "--port", str(ch_port), "--path", str(home / "clickhouse")),
            settings.to_env(), logs / "clickhouse.log",
        )  # fmt: skip
        wait_for_port("127.0.0.1", ch_port, 60, "embedded ClickHouse")
        print("applying the schema (callfloor migrate) ...", flush=True)
        migrate(settings)  # a worker never applies DDL: it waits for this
        print("starting worker ...", flush=True)
        worker = spawn(callfloor_command("worker"), settings.to_env(), logs / "worker.log")
        wait_for_port("127.0.0.1", settings.web_port, 60, "the worker")
        if ops is not None:
            print("starting Prometheus and Alertmanager ...", flush=True)
            ops.start()
        wallboard = spawn(callfloor_command("wallboard"), settings.to_env(), logs / "wallboard.log")
        wait_for_port(settings.wallboard_host, settings.wallboard_port, 60, "the wallboard")
        feeder = threading.Thread(
            target=produce, args=(spec, settings),
            kwargs={"stop": stopping}, daemon=True, name="simulated-dialer",
        )  # fmt: skip
        feeder.start()
        _print_where_to_look(settings, ch_port, home, rate)
        _print_ops(settings, ops, timing)
        while not stopping.wait(REFRESH_SECONDS):
            if worker.poll() is not None:
                print(f"the worker exited ({worker.returncode}); see {logs / 'worker.log'}")
                return 1
            print(_floor_line(settings), flush=True)
            for line in ops.changes() if ops is not None else ():
                print(line, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        print("\nstopping ...", flush=True)
        if feeder is not None:
            feeder.join(timeout=30)  # the simulated dialer flushes while the broker is still up
        stop(wallboard)
        if ops is not None:
            ops.stop()
        stop(worker)
        stop(clickhouse)
        broker.stop()
    print(f"stopped. ClickHouse data kept in {home / 'clickhouse'}; logs in {logs}")
    return 0


def _curl_user(settings: Settings) -> str:
    """`-u` for curl: the per-install token, never a configured password (it stays in the env)."""
    if settings.clickhouse_password.get_secret_value():
        return "default:$CALLFLOOR_CLICKHOUSE_PASSWORD"
    return f"default:{settings.clickhouse_token_file.read_text().strip()}"


def _print_where_to_look(settings: Settings, ch_port: int, home: Path, rate: float) -> None:
    logs = home / "logs"
    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    query = ("SELECT rep_id, dials, connects, valid_connects FROM callfloor.rep_day "
             f"WHERE business_day = '{today}' ORDER BY dials DESC LIMIT 5")
    print(f"""
callfloor demo is running: a simulated dialer sends ~{rate:.0f} CDRs/s.

  the wallboard (open it in a browser; ?lang=zh for Chinese, ?team=team-01 for one team):
      {http_url(settings.wallboard_host, settings.wallboard_port)}

  in another terminal, first the demo's business time zone (its schema is made for it):
      export CALLFLOOR_TIMEZONE={settings.timezone}
  today's exact per-rep report (what payroll reads):
      .venv/bin/callfloor report --from {today} --to {today} --format csv
  this month's pay statements so far (an estimate until the month ends), as a printable page:
      .venv/bin/callfloor payroll run --month {today[:7]} --plan {settings.pay_plan_file} \\
          --inputs {settings.payroll_inputs_dir} --format html --out {home / "payroll"}
  ClickHouse over HTTP (the token, from {settings.clickhouse_token_file}, is its password):
      curl -u "{_curl_user(settings)}" 'http://127.0.0.1:{ch_port}/' --data-binary "{query}"
  live targets vs. actuals (Prometheus format):
      curl -s http://127.0.0.1:{settings.web_port}/metrics | grep 'callfloor_rep_.*rep-001'
  targets file (edit it; the worker reloads it within seconds): {settings.targets_file}
  pay plan (commission tiers under each rep's name on the wallboard): {settings.pay_plan_file}
  roster (the awards panel ranks the plan's awards month to date): {settings.payroll_inputs_dir}
  logs: {logs}

The embedded broker keeps every record in memory and slows as they pile up (about a
core after 20 minutes here): this stack is for a demo; a floor runs on Kafka.
Floor totals for today refresh every {REFRESH_SECONDS:.0f}s below. Ctrl-C stops everything.
""", flush=True)  # fmt: skip


def _print_ops(settings: Settings, ops: OpsLoop | None, timing: DemoTiming) -> None:
    if ops is None:
        print("Prometheus and Alertmanager are not installed (`make system-deps` installs Debian's\n"
              "prometheus and prometheus-alertmanager): the demo runs without alerting, and the\n"
              "wallboard's alerts panel says \"alerts not connected\".\n", flush=True)  # fmt: skip
        return
    print(f"""The ops loop: the project's rules, every duration {settings.demo_speedup:g}x faster \
(CALLFLOOR_DEMO_SPEEDUP).
  Prometheus (alerts, rules, targets):   {ops.alerts_page()}
  Alertmanager (what pages whom):        {ops.alertmanager_url}/
  the wallboard's alerts panel reads Alertmanager.
  Incidents: camp-01 abandons over 3 % of its live answers (CampaignAbandonRateHigh soon);
  {timing.quiet_team} stops dialing {timing.quiet_after:.0f} s from now for {timing.quiet_for:.0f} s \
(TeamNotDialing about {timing.fires_after:.0f} s from now).
  Alerts that start or stop firing are printed below.
""", flush=True)  # fmt: skip
