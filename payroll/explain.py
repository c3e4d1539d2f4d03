"""``callfloor payroll explain``: the calls behind a rep's figures, version by version.

For "why is my connect count 412?": every call of the rep in the month, the version that
counted (what ``calls FINAL`` keeps) and the versions that did not (superseded by a higher
version, or a correction that moved the call to another rep or month), and each KPI's total
over the counted versions, which equals the statement's actual.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from schemas.kpis import KPI, KPI_COUNTERS
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from sinks.clickhouse.payroll_reads import call_versions, month_bounds
from sinks.csv_file import write_csv

# The call as the dialer sent it; then (csv, json) what it adds to each KPI counter. Its own talk is
# ``call_talk_seconds``: the ``talk_seconds`` counter is talk on connects only (0 for a voicemail).
COLUMNS = ("call_id", "version", "status", "rep_id", "team_id", "business_day", "dialed_at",
           "disposition", "amd", "call_talk_seconds", "outcome", "sale_amount", "arrived")  # fmt: skip


def explain_rows(
    client: Client, month: date, rep: str, zone: ZoneInfo, kpi: str | None
) -> list[dict[str, Any]]:
    """One row per version of each call the rep had in the month; with ``kpi``, only calls where
    some version adds to that KPI. ``status``: counted, superseded, or moved (counted elsewhere)."""
    first, last = month_bounds(month)
    rows = []
    for v in call_versions(client, month, [rep]):
        counts_here = v["rep_id"] == rep and first <= v["business_day"] <= last
        status = ("counted" if counts_here else "moved") if v["counted"] else "superseded"
        row = {
            "call_id": v["call_id"],
            "version": v["version"],
            "status": status,
            "rep_id": v["rep_id"],
            "team_id": v["team_id"],
            "business_day": v["business_day"].isoformat(),
            "dialed_at": _local(v["dialed_at"], zone),
            "disposition": v["disposition"],
            "amd": v["amd"],
            "call_talk_seconds": v["talk_seconds"],
            "outcome": v["outcome"],
            "sale_amount": None if v["sale_amount"] is None else format(v["sale_amount"], "f"),
            "arrived": _local(v["ingested_at"], zone),
        }
        row |= {c.name: c.reported(int(v[c.column])) for c in KPI_COUNTERS}
        rows.append(row)
    if kpi is not None:
        touched = {r["call_id"] for r in rows if KPI[kpi].unreported(r[kpi])}
        rows = [r for r in rows if r["call_id"] in touched]
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, int | str]:
    """Each KPI over the counted versions: the statement's actual for the rep."""
    counted = [r for r in rows if r["status"] == "counted"]
    return {c.name: c.reported(sum(c.unreported(r[c.name]) for r in counted)) for c in KPI_COUNTERS}


def _local(moment: datetime, zone: ZoneInfo) -> str:
    from datetime import UTC

    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment.astimezone(zone).isoformat(timespec="seconds")


def render_text(
    rows: list[dict[str, Any]], sums: dict[str, Any], rep: str, month: date, kpi: str | None
) -> str:
    shown = [*COLUMNS, kpi] if kpi else list(COLUMNS)
    out = io.StringIO()
    title = f"{rep} {month:%Y-%m}" + (f" {kpi}" if kpi else "")
    out.write(f"calls behind {title}: {len({r['call_id'] for r in rows})} calls, {len(rows)} versions\n")
    cells = [[("" if r[c] is None else str(r[c])) for c in shown] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(shown)]
    for row in [list(shown), *cells]:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    names = [kpi] if kpi else list(sums)
    out.write("counted totals: " + ", ".join(f"{n}={sums[n]}" for n in names) + "\n")
    out.write(
        "status: counted = the winning version, in this month for this rep; superseded = a lower "
        "version (or a later duplicate); moved = the winning version counts for another rep or month\n"
    )
    return out.getvalue()


def explain(
    settings: Settings, month: date, rep: str, kpi: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of :func:`explain_rows` and their :func:`totals`, read from ClickHouse (a
    failure to read propagates)."""
    with connect(settings) as client:
        rows = explain_rows(client, month, rep, settings.zone, kpi)
    return rows, totals(rows)


def render_explanation(
    rows: list[dict[str, Any]], sums: dict[str, Any], rep: str, month: date, kpi: str | None, fmt: str
) -> bytes:
    """The explanation as ``fmt``: ``text`` (:func:`render_text`), ``csv`` (with a BOM, every
    KPI column) or ``json``."""
    if fmt == "csv":
        out = io.StringIO()
        out.write("\ufeff")
        write_csv(out, rows, [*COLUMNS, *KPI])
        return out.getvalue().encode()
    if fmt == "json":
        import orjson

        doc = {"month": f"{month:%Y-%m}", "rep": rep, "kpi": kpi, "totals": sums, "calls": rows}
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    return render_text(rows, sums, rep, month, kpi).encode()
