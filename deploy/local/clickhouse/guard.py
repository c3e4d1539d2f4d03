"""The SQL fence: a statement runs only if ClickHouse's own parse of it is made of allowed parts.

Nothing is judged by its first word or by a pattern over the text. ClickHouse renders the
statement canonically first (``formatQuery``, in engine.py: exactly one statement, no comments),
then parses that text again as ``EXPLAIN AST`` (fence_tree.py), and the fence walks the tree:

- the statement's kind is one of :data:`STATEMENTS` (SELECT, INSERT, CREATE/ALTER/DROP/TRUNCATE/
  RENAME, SHOW/DESCRIBE/EXISTS, OPTIMIZE, USE, SET, EXPLAIN of one of these) and every node in
  it is a kind in :data:`NODES`, so ``PARALLEL WITH``, ``SYSTEM``, ``ATTACH``, ``BACKUP``,
  ``KILL``, ``GRANT``, named collections, dictionaries and refresh clauses are refused wherever
  they sit, and so is any node kind a newer ClickHouse invents;
- every function is in the reviewed snapshot (fence_catalogue.py), every table function in
  :data:`TABLE_FUNCTIONS`, every engine in :data:`ENGINES`, every ALTER command in
  :data:`ALTER_COMMANDS`;
- every settings list (``SETTINGS``, ``SET``, ``MODIFY SETTING``, EXPLAIN options) is read from
  the canonical text, one per ``Set`` node of the tree, and checked name and value
  (fence_settings.py);
- no name is a path (``FROM `/etc/passwd```) and no name holds a control character.

What was checked is what runs: the engine executes the canonical text the tree was parsed from.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from deploy.local.clickhouse.fence_catalogue import Catalogue
from deploy.local.clickhouse.fence_settings import (
    EXPLAIN_OPTIONS,
    Allowed,
    check_setting,
    check_settings,
)
from deploy.local.clickhouse.fence_tree import Node, parse_tree
from deploy.local.clickhouse.protocol import ClickHouseError, refused

__all__ = ["Fence", "check_settings", "lex"]

# fmt: off
STATEMENTS = frozenset({
    "SelectWithUnionQuery", "InsertQuery", "CreateQuery", "AlterQuery", "DropQuery", "TruncateQuery",
    "Rename", "OptimizeQuery", "ShowTables", "ShowColumns", "ShowCreateTableQuery",
    "ShowCreateViewQuery", "ShowCreateDatabaseQuery", "DescribeQuery", "ExistsTableQuery",
    "ExistsViewQuery", "ExistsDatabaseQuery", "UseQuery", "Set", "Explain", "DeleteQuery",
})
NODES = STATEMENTS | frozenset({
    "ExpressionList", "SelectQuery", "SelectIntersectExceptQuery", "Subquery", "WithElement",
    "Identifier", "TableIdentifier", "Function", "Literal", "Asterisk", "QualifiedAsterisk",
    "ColumnsRegexpMatcher", "ColumnsListMatcher", "QualifiedColumnsRegexpMatcher",
    "QualifiedColumnsListMatcher", "ColumnsTransformerList", "ColumnsExceptTransformer",
    "ColumnsReplaceTransformer", "TablesInSelectQuery", "TablesInSelectQueryElement",
    "TableExpression", "TableJoin", "ArrayJoin", "SampleRatio", "OrderByElement", "WindowDefinition",
    "WindowListElement", "InterpolateElement",
    "Columns definition", "ColumnDeclaration", "DataType", "TupleDataType", "NameTypePair",
    "Storage definition", "ViewTargets", "TTLElement", "Index", "Constraint", "Projection",
    "ProjectionSelectQuery", "AlterCommand", "Assignment", "Partition", "Partition_ID",
})
TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "generateRandom", "generateSeries",
    "generate_series", "primes", "values", "null", "view", "merge", "input", "format",
})
ENGINES = frozenset({
    "MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree",
    "CollapsingMergeTree", "VersionedCollapsingMergeTree", "CoalescingMergeTree",
    "Memory", "Null", "Log", "TinyLog", "StripeLog", "Set", "Join", "Buffer", "Merge", "GenerateRandom",
    "Atomic",  # the database engine (Memory above is also one)
})
ALTER_COMMANDS = frozenset({
    "ADD_COLUMN", "DROP_COLUMN", "MODIFY_COLUMN", "RENAME_COLUMN", "COMMENT_COLUMN",
    "MATERIALIZE_COLUMN", "MODIFY_ORDER_BY", "MODIFY_SAMPLE_BY", "MODIFY_TTL", "REMOVE_TTL",
    "MATERIALIZE_TTL", "MODIFY_SETTING", "RESET_SETTING", "MODIFY_QUERY", "MODIFY_COMMENT",
    "ADD_INDEX", "DROP_INDEX", "MATERIALIZE_INDEX", "ADD_CONSTRAINT", "DROP_CONSTRAINT",
    "ADD_PROJECTION", "DROP_PROJECTION", "MATERIALIZE_PROJECTION", "DELETE", "UPDATE",
    "DROP_PARTITION",
})
EXPLAIN_KINDS = frozenset({
    "EXPLAIN", "EXPLAIN AST", "EXPLAIN SYNTAX", "EXPLAIN QUERY TREE", "EXPLAIN PLAN",
    "EXPLAIN PIPELINE", "EXPLAIN ESTIMATE",
})
INDEX_TYPES = frozenset({"minmax", "set", "bloom_filter", "ngrambf_v1", "tokenbf_v1", "text"})
CODECS = frozenset({"NONE", "LZ4", "LZ4HC", "ZSTD", "Delta", "DoubleDelta", "Gorilla", "FPC", "T64", "GCD"})
# fmt: on
ADMITTED_REMEMBERED = 512
# Where a Function node names a table function rather than an ordinary function.
_TABLE_FUNCTION_PARENTS = frozenset({"TableExpression", "CreateQuery", "InsertQuery"})
_TOKEN = re.compile(
    r"""\s+
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<quoted>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>[0-9][0-9A-Za-z_.+\-]*)
    |(?P<punct>[^\sA-Za-z0-9_'`"])""",
    re.X | re.S,
)
_IDENTIFIER_PARAMETER = re.compile(r"\{\s*(\w+)\s*:\s*Identifier\s*\}")
_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


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
        tokens.append((kind, text[1:-1] if kind in ("quoted", "string") else text))
    return tokens


class Fence:
    """Admits a statement only if every part of ClickHouse's parse of it is allowed."""

    def __init__(self, combinators: Iterable[str]) -> None:
        self.functions = Catalogue.load()
        # longest first, so that 'SimpleState' is tried before 'State'
        self.combinators = tuple(sorted(combinators, key=len, reverse=True))
        # Canonical texts already admitted: the verdict depends on the text alone (bound values
        # of any type but Identifier become literals), and the worker sends the same few again
        # and again. Bounded; the oldest is forgotten first.
        self._admitted: OrderedDict[str, None] = OrderedDict()

    def check(self, session: Any, canonical: str, binds: Mapping[str, str]) -> None:
        """Raise ACCESS_DENIED naming the first part of ``canonical`` that is not allowed.
        ``session`` parses it (``EXPLAIN AST`` runs nothing); ``binds`` are its parameters."""
        if canonical in self._admitted:
            self._admitted.move_to_end(canonical)
            return
        self.verify(session, canonical, binds)
        if not _IDENTIFIER_PARAMETER.search(canonical):
            self._admitted[canonical] = None
            while len(self._admitted) > ADMITTED_REMEMBERED:
                self._admitted.popitem(last=False)

    def verify(self, session: Any, canonical: str, binds: Mapping[str, str]) -> None:
        """:meth:`check` without the memory of admitted texts."""
        tokens = lex(canonical)
        for kind, text in tokens:
            if kind == "quoted" and _UNSAFE_NAME.search(text):
                raise refused(f"the name '{_shown(text)}' holds '/', '\\' or a control character")
            if kind == "word" and text.upper() in ("INFILE", "OUTFILE"):
                raise refused("INTO OUTFILE / FROM INFILE would touch the server's files")
        for name in _IDENTIFIER_PARAMETER.findall(canonical):
            if not _PLAIN_IDENTIFIER.fullmatch(binds.get(name, "")):
                raise refused(f"parameter '{name}' of type Identifier must be a plain name")
        try:
            dump = session.query("EXPLAIN AST " + canonical, "TSVRaw", params=dict(binds)).bytes().decode()
        except Exception as exc:  # noqa: BLE001 - chdb raises plain exceptions; the statement is the client's
            raise ClickHouseError.from_engine(exc) from None
        tree = parse_tree(dump)
        self._check_tree(tree)
        lists = settings_lists(tokens)
        if len(lists) != sum(1 for node, _ in tree.walk() if node.kind == "Set"):
            raise refused("a settings list could not be read (only plain literal values are allowed)")
        for table, pairs in lists:
            for name, value in pairs:
                check_setting(name, value, table)

    def _check_tree(self, root: Node) -> None:
        if root.kind not in STATEMENTS:
            raise refused(f"{_statement(root)} statements are not allowed")
        named = set()  # ids of Function nodes that name a codec, checked with their CODEC(...)
        for node, parent in root.walk():
            if node.kind not in NODES:
                raise refused(f"'{_statement(node)}' is not allowed here")
            if node.kind == "Explain":
                _check_explain(node)
            elif node.kind == "CreateQuery" and parent is not None and parent.kind != "Explain":
                raise refused("a CREATE inside another statement is not allowed")
            elif node.kind == "Function" and parent is not None and id(node) not in named:
                named.update(self._check_function(node, parent))
            elif node.kind == "AlterCommand" and node.name not in ALTER_COMMANDS:
                raise refused(f"ALTER command {node.name} is not allowed")
            elif node.kind == "TableIdentifier" and _UNSAFE_NAME.search(node.name):
                raise refused(f"the table name '{_shown(node.name)}' looks like a path")
            elif (
                node.kind == "Literal"
                and parent is not None
                and parent.kind in ("SelectWithUnionQuery", "InsertQuery")
            ):
                raise refused("INTO OUTFILE / FROM INFILE would touch the server's files")

    def _check_function(self, node: Node, parent: Node) -> list[int]:
        """Check one Function node by where it sits; returns the ids of codec nodes it vouched for."""
        name = node.name
        if parent.kind in _TABLE_FUNCTION_PARENTS:
            if name not in TABLE_FUNCTIONS:
                raise refused(f"table function '{_shown(name)}' is not on the endpoint's allowlist "
                              "(it may reach files, URLs, other servers or programs)")  # fmt: skip
        elif parent.kind == "Storage definition" and parent.children[0] is node:
            if name not in ENGINES:
                raise refused(
                    f"engine '{_shown(name)}' is not allowed (only local table and database engines)"
                )
        elif parent.kind == "Index":
            if name not in INDEX_TYPES:
                raise refused(f"index type '{_shown(name)}' is not allowed")
        elif parent.kind == "ColumnDeclaration" and name == "CODEC":
            codecs = node.children[0].children if node.children else []
            if any(c.kind != "Function" or c.name not in CODECS for c in codecs):
                raise refused("only the listed column codecs are allowed")
            return [id(c) for c in codecs]
        elif not self.functions.allows(name, self.combinators):
            raise refused(f"function '{_shown(name)}' is not on the endpoint's allowlist "
                          "(it may reach files, URLs, other servers, programs or dictionaries)")  # fmt: skip
        return []


def _check_explain(node: Node) -> None:
    if node.name not in EXPLAIN_KINDS:
        raise refused(f"EXPLAIN {_shown(node.name)} is not allowed")
    explained = [child for child in node.children if child.kind != "Set"]
    if len(explained) != 1 or explained[0].kind in ("Explain", "Set") or explained[0].kind not in STATEMENTS:
        raise refused("EXPLAIN may explain one allowed statement")


def settings_lists(
    tokens: list[tuple[str, str]],
) -> list[tuple[dict[str, Allowed] | None, list[tuple[str, str]]]]:
    """Every settings list in canonical ``tokens``, with the table its names are checked against:
    after ``SETTINGS`` / ``SETTING``, a leading ``SET``, and an ``EXPLAIN``'s options."""
    lists: list[tuple[dict[str, Allowed] | None, list[tuple[str, str]]]] = []
    for i, (kind, text) in enumerate(tokens):
        if kind != "word":
            continue
        upper = text.upper()
        starts = upper in ("SETTINGS", "SETTING") or (i == 0 and upper == "SET")
        if i == 0 and upper == "EXPLAIN":
            j = 1
            while j < len(tokens) and tokens[j][1].upper() in (
                "AST",
                "SYNTAX",
                "QUERY",
                "TREE",
                "PLAN",
                "PIPELINE",
                "ESTIMATE",
            ):
                j += 1
            if _pair_at(tokens, j) is not None:
                lists.append((EXPLAIN_OPTIONS, _pairs(tokens, j)))
            continue
        if starts and _pair_at(tokens, i + 1) is not None:
            lists.append((None, _pairs(tokens, i + 1)))
    return lists


def _pair_at(tokens: list[tuple[str, str]], i: int) -> tuple[str, str, int] | None:
    """``name = value`` at ``i`` with a plain literal value: (name, value, next index)."""
    if i + 2 >= len(tokens) or tokens[i][0] not in ("word", "quoted") or tokens[i + 1][1] != "=":
        return None
    j = i + 2
    sign = ""
    if tokens[j][1] == "-" and j + 1 < len(tokens):
        sign, j = "-", j + 1
    kind, value = tokens[j]
    plain = kind in ("string", "number") or (kind == "word" and value.lower() in ("true", "false"))
    if not plain:
        return (tokens[i][1], "\x00not a plain literal", j + 1)
    return (tokens[i][1], sign + value, j + 1)


def _pairs(tokens: list[tuple[str, str]], i: int) -> list[tuple[str, str]]:
    pairs = []
    while (pair := _pair_at(tokens, i)) is not None:
        pairs.append(pair[:2])
        i = pair[2]
        if i < len(tokens) and tokens[i][1] == "," and _pair_at(tokens, i + 1) is not None:
            i += 1
            continue
        break
    return pairs


_READABLE = {"ParallelWithQuery": "PARALLEL WITH", "SYSTEM query": "SYSTEM", "AttachQuery": "ATTACH",
             "DetachQuery": "DETACH", "BackupQuery": "BACKUP / RESTORE", "KillQueryQuery": "KILL",
             "CreateNamedCollectionQuery": "CREATE NAMED COLLECTION"}  # fmt: skip


def _statement(node: Node) -> str:
    """How a refusal names a node: ClickHouse's kind, with the SQL words where they differ."""
    readable = _READABLE.get(node.kind)
    return f"{node.kind} ({readable})" if readable else node.kind


def _shown(name: str) -> str:
    return name[:64].encode("unicode_escape").decode()
