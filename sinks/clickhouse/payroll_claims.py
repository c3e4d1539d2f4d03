"""One ``payroll close`` of a month at a time: a claim that ClickHouse itself makes exclusive.

Two closes of one month running together (a retry while the first still runs, two clerks)
would each write the month's amounts paid, and both would count. ClickHouse has no lock, but
it has insert deduplication: inserts carrying the same ``insert_deduplication_token`` store
one block, whichever arrives first, atomically (per table on one server; through Keeper on a
replicated table). A close claims its month by inserting a row naming itself with the token
``payroll-close-<month>-after-<previous claimant>``; every contender for the same free month
uses the same token, so exactly one row lands, and a close goes on only if the row it reads
back names it. A claim older than :data:`CLAIM_STALE_S` with no close recorded is a close that
died: the next close takes over with a new token (``after`` the dead claimant), again one
winner. A close checks it still holds its claim just before it writes the amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from clickhouse_connect.driver.client import Client

CLAIMS = "payroll_close_claims"
# A close takes seconds to a minute; a claim this old without a close is a close that died.
CLAIM_STALE_S = 900

_CLAIMS = f"""
CREATE TABLE IF NOT EXISTS {CLAIMS} (
    month       Date,
    claimant    String,
    after       String,
    claimed_at  DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = MergeTree
ORDER BY (month, claimed_at)
SETTINGS non_replicated_deduplication_window = 1000
"""
CLAIM_STATEMENTS: tuple[str, ...] = (_CLAIMS,)


class CloseRefused(Exception):
    """Another ``payroll close`` of the month holds it."""


@dataclass(frozen=True)
class Claim:
    claimant: str
    claimed_at: datetime
    age_s: float


def latest_claim(client: Client, month: date) -> Claim | None:
    rows = client.query(
        f"SELECT claimant, claimed_at, dateDiff('millisecond', claimed_at, now64(3)) / 1000"
        f" FROM {CLAIMS} WHERE month = {{m:Date}} ORDER BY claimed_at DESC, claimant LIMIT 1",
        parameters={"m": month},
    ).result_rows
    return Claim(*rows[0]) if rows else None


def _refusal(month: date, holder: Claim) -> CloseRefused:
    return CloseRefused(
        f"{month:%Y-%m} is being closed by another `payroll close` (claimed "
        f"{holder.claimed_at:%Y-%m-%d %H:%M:%S} UTC); wait for it to finish. A close that died "
        f"gives the month up {CLAIM_STALE_S // 60} minutes after its claim."
    )


def claim_month(client: Client, month: date, claimant: str) -> None:
    """Make ``claimant`` the one close of ``month``, or raise :class:`CloseRefused`."""
    current = latest_claim(client, month)
    if current is not None and current.age_s < CLAIM_STALE_S:
        raise _refusal(month, current)
    after = current.claimant if current else ""
    client.insert(
        CLAIMS, [(month, claimant, after)], column_names=("month", "claimant", "after"),
        settings={"insert_deduplication_token": f"payroll-close-{month:%Y-%m}-after-{after or 'none'}"},
    )  # fmt: skip
    check_claim(client, month, claimant)


def check_claim(client: Client, month: date, claimant: str) -> None:
    """Raise :class:`CloseRefused` unless ``claimant`` still holds ``month``."""
    holder = latest_claim(client, month)
    if holder is None or holder.claimant != claimant:
        raise _refusal(month, holder) if holder else CloseRefused(f"{month:%Y-%m}: the claim was lost")
