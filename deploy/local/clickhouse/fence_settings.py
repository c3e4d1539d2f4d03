"""Which settings a request may change, and to what: the one definition of the settings allowlist.

A name is not enough: ``additional_table_filters``, ``filter`` and ``additional_result_filter``
carry SQL in their value, ``format_avro_schema_registry_url`` a URL, ``format_schema`` a path.
So every setting a request may change is listed here with a check of its value (a type and a
range, a set of words, or a narrow pattern), and nothing that holds SQL, a URL or a path is
listed at all. The same table applies to URL parameters, ``SETTINGS`` clauses (at any depth of
a statement) and ``SET``. ``docs/ops/sql-fence.md`` shows the table as :func:`markdown_table`
renders it (a test compares the two).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from deploy.local.clickhouse.protocol import refused


@dataclass(frozen=True)
class Allowed:
    """What a setting's value may be: ``accepts`` says yes or no, ``shape`` says it in words."""

    accepts: Callable[[str], bool]
    shape: str
    why: str


def _uint(low: int, high: int) -> Callable[[str], bool]:
    return lambda v: v.isascii() and v.isdigit() and low <= int(v) <= high


def uint(low: int, high: int, why: str) -> Allowed:
    return Allowed(_uint(low, high), f"integer {low}..{high}", why)


def boolean(why: str) -> Allowed:
    return Allowed(lambda v: v.lower() in ("0", "1", "true", "false"), "0, 1, true or false", why)


def one_of(why: str, *words: str) -> Allowed:
    return Allowed(lambda v: v in words, " / ".join(words), why)


def matching(pattern: str, shape: str, why: str) -> Allowed:
    compiled = re.compile(pattern)
    return Allowed(lambda v: compiled.fullmatch(v) is not None, shape, why)


_CLIENT = "sent by the project's clients (clickhouse-connect)"
_PROJECT = "sent by the project (sinks, payroll, benchmarks)"
_ANALYST = "analyst: limits and output shape"

# fmt: off
QUERY_SETTINGS: dict[str, Allowed] = {
    # what the project's own clients send (clickhouse-connect adds the first two on connect)
    "date_time_input_format": one_of(_CLIENT, "best_effort", "basic", "best_effort_us"),
    "cast_string_to_dynamic_use_inference": boolean(_CLIENT),
    "output_format_arrow_string_as_string": boolean(_CLIENT),
    "insert_deduplication_token": matching(r"[A-Za-z0-9._:\-]{1,128}", "letters, digits, ._:-", _CLIENT),
    "do_not_merge_across_partitions_select_final": boolean(_PROJECT),
    "force_index_by_date": boolean(_PROJECT),
    "insert_distributed_sync": boolean(_PROJECT),
    "distributed_product_mode": one_of(_PROJECT, "deny", "local", "global", "allow"),
    "max_insert_threads": uint(0, 64, _PROJECT),
    "session_timezone": matching(r"[A-Za-z][A-Za-z0-9_+\-/]{0,63}", "time zone name", _PROJECT),
    "insert_quorum": matching(r"auto|[0-9]{1,2}", "auto or 0..99", _PROJECT),
    "select_sequential_consistency": boolean(_PROJECT),
    # what an analyst may set: limits, output shape, readonly
    "max_threads": uint(0, 256, _ANALYST),
    "max_execution_time": uint(0, 86400, _ANALYST),
    "max_result_rows": uint(0, 10**12, _ANALYST),
    "max_result_bytes": uint(0, 10**13, _ANALYST),
    "result_overflow_mode": one_of(_ANALYST, "throw", "break"),
    "max_rows_to_read": uint(0, 10**13, _ANALYST),
    "max_bytes_to_read": uint(0, 10**14, _ANALYST),
    "read_overflow_mode": one_of(_ANALYST, "throw", "break"),
    "timeout_overflow_mode": one_of(_ANALYST, "throw", "break"),
    "max_memory_usage": uint(0, 2**40, _ANALYST),
    "max_block_size": uint(1, 10**7, _ANALYST),
    "readonly": one_of(_ANALYST, "0", "1", "2"),  # a GET's readonly = 1 is set after, and sticks
    "final": boolean(_ANALYST),
    "join_use_nulls": boolean(_ANALYST),
    "extremes": boolean(_ANALYST),
    "mutations_sync": uint(0, 2, _ANALYST),
    "date_time_output_format": one_of(_ANALYST, "simple", "iso", "unix_timestamp"),
    "output_format_json_quote_64bit_integers": boolean(_ANALYST),
    "output_format_pretty_max_rows": uint(0, 10**9, _ANALYST),
    "input_format_skip_unknown_fields": boolean(_ANALYST),
    "input_format_null_as_default": boolean(_ANALYST),
    "format_csv_delimiter": matching(r"[,;|\t]", "one of , ; | TAB", _ANALYST),
}
# Table-level settings of CREATE TABLE ... SETTINGS and ALTER TABLE ... MODIFY SETTING: none
# names a disk, a storage policy or a path.
TABLE_SETTINGS: dict[str, Allowed] = {
    "index_granularity": uint(1, 10**6, "MergeTree table setting"),
    "index_granularity_bytes": uint(0, 2**30, "MergeTree table setting"),
    "min_bytes_for_wide_part": uint(0, 2**40, "MergeTree table setting"),
    "min_rows_for_wide_part": uint(0, 2**40, "MergeTree table setting"),
    "ttl_only_drop_parts": boolean("MergeTree table setting"),
    "allow_nullable_key": boolean("MergeTree table setting"),
    "non_replicated_deduplication_window": uint(0, 10**6, "MergeTree table setting (insert deduplication)"),
}
# Options of EXPLAIN (``EXPLAIN indexes = 1 SELECT ...``): they shape the explanation only.
EXPLAIN_OPTIONS: dict[str, Allowed] = {
    name: uint(0, 1, "EXPLAIN option") for name in (
        "header", "description", "actions", "indexes", "projections", "sorting", "json", "optimize",
        "graph", "compact", "oneline", "distributed", "run_passes", "dump_passes", "dump_tree", "dump_ast",
    )
} | {"passes": uint(0, 1000, "EXPLAIN option")}
# fmt: on
STATEMENT_SETTINGS = QUERY_SETTINGS | TABLE_SETTINGS
QUERY_PARAMETER = re.compile(r"param_[A-Za-z_][A-Za-z0-9_]{0,63}")  # SET param_x = '...' binds data


def check_setting(name: str, value: str, table: dict[str, Allowed] | None = None) -> None:
    """Raise ACCESS_DENIED unless ``name`` is listed in ``table`` and ``value`` has its shape.
    Without a table: a statement's SETTINGS / SET, where query and table settings and query
    parameters (``SET param_x = '...'``, data for ``{x:Type}``) may appear."""
    if table is None and QUERY_PARAMETER.fullmatch(name):
        return
    allowed = (table if table is not None else STATEMENT_SETTINGS).get(name)
    if allowed is None:
        shown = name[:64] if re.fullmatch(r"[A-Za-z0-9_]*", name) else repr(name[:64])
        raise refused(
            f"setting '{shown}' is not on the endpoint's settings allowlist (see docs/ops/sql-fence.md)"
        )
    if not allowed.accepts(value):
        raise refused(f"setting '{name}' must be {allowed.shape}")


def check_settings(settings: dict[str, str]) -> None:
    """The URL parameters that are settings (not transport parameters), checked one by one."""
    for name, value in settings.items():
        check_setting(name, value, QUERY_SETTINGS)


def markdown_table() -> str:
    """The allowlist as docs/ops/sql-fence.md shows it."""
    rows = ["| setting | value | where | why |", "|---|---|---|---|"]
    for where, table in (("query", QUERY_SETTINGS), ("table", TABLE_SETTINGS), ("EXPLAIN", EXPLAIN_OPTIONS)):
        rows += [f"| `{name}` | {a.shape} | {where} | {a.why} |" for name, a in table.items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
