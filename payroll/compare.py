"""``payroll run --compare PREVIOUS``: whose pay changed since an earlier run, and why.

PREVIOUS is the JSON output of an earlier run of the same month. For each person whose
total changed: the components and KPI actuals that moved, and the call versions that
arrived after the earlier run's data cut-off.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from payroll.statements import PayRun, run_document
from sinks.clickhouse.payroll_reads import call_versions

COMPONENTS = (
    "base", "performance", "commission", "awards_total", "allowances_total", "adjustments_total", "total",
)  # fmt: skip


def _components(st: dict[str, Any]) -> dict[str, Any]:
    """A statement's figures by name; a part's (a role's days) named by its role and first day."""
    out = {name: st[name] for name in COMPONENTS}
    for part in st["parts"]:
        where = f"{part['role']} from {part['from']}"
        out[f"{where} score"] = part["score"]
        out |= {f"{where} {k['name']} actual": k["actual"] for k in part["kpis"]}
    return out


def changes(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, list[tuple[str, Any, Any]]]:
    """person -> [(what, before, after)] for people whose total changed (or who appeared/left)."""
    before = {st["person"]: st for st in previous["statements"]}
    after = {st["person"]: st for st in current["statements"]}
    out = {}
    for person in sorted(set(before) | set(after)):
        old, new = before.get(person), after.get(person)
        if old and new and old["total"] == new["total"]:
            continue
        old_c, new_c = _components(old) if old else {}, _components(new) if new else {}
        out[person] = [
            (k, old_c.get(k), new_c.get(k)) for k in {**old_c, **new_c} if old_c.get(k) != new_c.get(k)
        ]
    return out


def compare_with_previous(client: Client, run: PayRun, previous_path: Path) -> str:
    previous = orjson.loads(previous_path.read_bytes())
    current = run_document(run)
    if previous.get("month") != current["month"]:
        return f"compare: {previous_path} is month {previous.get('month')}, not {current['month']}"
    changed = changes(previous, current)
    lines = [
        f"compare with {previous_path} (cut-off {previous['cutoff'] or 'none'} -> {current['cutoff']}): "
        f"{len(changed)} people changed"
    ]
    after = datetime.fromisoformat(previous["cutoff"].replace("Z", "+00:00")) if previous["cutoff"] else None
    for person, diffs in changed.items():
        lines.append(f"{person}:")
        lines += [f"  {what}: {old} -> {new}" for what, old, new in diffs]
        late = call_versions(client, run.data.month, [person], after=after) if after else []
        arrived = [v for v in late if after is None or v["ingested_at"].replace(tzinfo=after.tzinfo) > after]
        lines += [
            f"  call {v['call_id']} v{v['version']} ({v['disposition']}, {v['talk_seconds']} s, "
            f"rep {v['rep_id']}) arrived {v['ingested_at']}"
            for v in arrived
        ]
    return "\n".join(lines)
