"""The SQL fence: no statement reaches a file, URL, other server or program through SQL.

ClickHouse parses every statement first (``formatQuery`` in the request's own session, the
SQL passed as a bound parameter, so it is data): a text that is not exactly one statement is a
syntax error, and what comes back is ClickHouse's canonical rendering of the parsed query, with
no comments and every literal in one quoting style. That canonical text is what the fence reads
with a small lexer, and what the engine then runs, so what was checked is what executes. The
fence fails closed: an unknown table function or engine is refused, as is anything it cannot lex.

chdb is ``clickhouse-local``: its ``file()`` ignores ``user_files_path`` and it has no users or
grants to lean on, so names are refused here. GET's read-only mode, by contrast, is ClickHouse's
own ``readonly = 1`` (see engine.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deploy.local.clickhouse.protocol import refused

# fmt: off
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "generaterandom", "generateseries",
    "generate_series", "primes", "values", "null", "view", "viewifpermitted", "merge", "input",
    "format", "loop",
})
ALLOWED_ENGINES = frozenset({
    "mergetree", "replacingmergetree", "summingmergetree", "aggregatingmergetree",
    "collapsingmergetree", "versionedcollapsingmergetree", "coalescingmergetree",
    "graphitemergetree", "memory", "log", "tinylog", "stripelog", "null", "set", "join", "buffer",
    "merge", "view", "materializedview", "generaterandom",
    "atomic",  # the default database engine
})
# Ordinary functions that read the server's files, and the inline disk definition of SETTINGS.
DENIED_FUNCTIONS = frozenset({"file", "disk"})
DENIED_STATEMENTS = frozenset({"SYSTEM", "BACKUP", "RESTORE", "ATTACH", "INSTALL"})
DENIED_KEYWORDS = frozenset({"OUTFILE", "INFILE"})
# Settings that name files, or that let the Values format evaluate SQL expressions in data.
DENIED_SETTINGS = frozenset({
    "input_format_values_interpret_expressions", "input_format_values_deduce_templates_of_expressions",
})
_DENIED_SETTING_WORDS = frozenset({"path", "paths", "file", "files", "dir", "directory", "directories"})
_DENIED_SETTING_PREFIXES = ("format_schema", "format_template", "output_format_schema")
# fmt: on

_TOKEN = re.compile(
    r"""\s+
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<quoted>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>[0-9][0-9A-Za-z_.+\-]*)
    |(?P<punct>[^\sA-Za-z0-9_'`"])""",
    re.X | re.S,
)
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def lex(sql: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of canonical SQL; quoted identifiers come back unquoted as 'quoted'."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(sql):
        match = _TOKEN.match(sql, pos)
        if match is None:
            raise refused(f"cannot read the statement at offset {pos}")
        pos = match.end()
        kind = match.lastgroup
        if kind is None:
            continue
        text = match.group(kind)
        tokens.append((kind, text[1:-1] if kind == "quoted" else text))
    return tokens


def setting_refusal(name: str) -> str | None:
    """Why setting ``name`` may not be changed by a request, or None."""
    if not _SETTING_NAME.fullmatch(name):
        return f"'{name[:64]}' is not a setting name"
    low = name.lower()
    named_files = bool(_DENIED_SETTING_WORDS.intersection(low.split("_")))
    named_files = named_files or low.startswith(_DENIED_SETTING_PREFIXES)
    if low in DENIED_SETTINGS or named_files:
        return f"setting '{name}' names files or evaluates SQL in data, and cannot be changed"
    return None


class Fence:
    """Refuses statements that reach outside the database. Built from the engine's own
    catalogue, so table functions and engines a newer chdb adds are refused until allowed."""

    def __init__(self, table_functions: Iterable[str], engines: Iterable[str]) -> None:
        outside = {n.lower() for n in table_functions} - ALLOWED_TABLE_FUNCTIONS
        outside |= {n.lower() for n in engines} - ALLOWED_ENGINES
        self.denied_calls = frozenset(outside | DENIED_FUNCTIONS)

    def check(self, canonical: str) -> None:
        """Raise ACCESS_DENIED naming the first thing in ``canonical`` that reaches outside."""
        tokens = lex(canonical)
        if not tokens:
            return
        first = tokens[0][1].upper()
        if first in DENIED_STATEMENTS:
            raise refused(f"{first} statements are not allowed")
        is_create = first in ("CREATE", "REPLACE")
        in_settings = False
        for i, (kind, text) in enumerate(tokens):
            if kind not in ("word", "quoted"):
                continue
            after = tokens[i + 1][1] if i + 1 < len(tokens) else ""
            low, upper = text.lower(), text.upper()
            if kind == "word" and upper in DENIED_KEYWORDS:
                raise refused("INTO OUTFILE / FROM INFILE would touch the server's files")
            if kind == "word" and is_create and upper == "DICTIONARY":
                raise refused("dictionaries (their sources reach files, URLs and servers) are not allowed")
            if after == "(" and low in self.denied_calls:
                raise refused(f"'{text}' reaches files, URLs, other servers or programs")
            if kind == "word" and upper == "ENGINE" and after == "=":
                engine = tokens[i + 2][1] if i + 2 < len(tokens) else ""
                if engine.lower() not in ALLOWED_ENGINES:
                    raise refused(f"engine '{engine}' is not allowed (only local table and database engines)")
            in_settings = in_settings or (kind == "word" and upper in ("SET", "SETTINGS", "SETTING"))
            if in_settings and after == "=" and (why := setting_refusal(text)):
                raise refused(why)
