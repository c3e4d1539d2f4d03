"""MkDocs hook: fills the reference pages' ``<!-- generated: NAME -->`` markers from the code.

Each table has exactly one definition in the code (the settings class, the KPI counter list,
the rejection enums, the SQL fence's settings allowlist) and is rendered from it when the
site is built, so a page cannot describe a setting, a counter or a reason that the code does
not have, or miss one it has.
The test suite builds the site in strict mode (``tests/unit/test_docs.py``).
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import textwrap
import tokenize
from collections.abc import Callable
from enum import Enum
from typing import Any

_MARKER = re.compile(r"<!-- generated: (\w+)((?:\s+\w+)*)\s*-->")


def _cell(text: object) -> str:
    """One Markdown table cell: pipes escaped, newlines folded."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def settings_table(*names: str) -> str:
    """``Settings`` fields (all, or the ``names`` a topic's page lists, in that order): the
    variable, its default and the field's own description, so a page never restates one."""
    from pydantic import SecretStr

    from schemas.settings import Settings

    unknown = [name for name in names if name not in Settings.model_fields]
    if unknown:
        raise ValueError(f"no setting named {', '.join(unknown)}")
    rows = []
    for name in names or tuple(Settings.model_fields):
        field = Settings.model_fields[name]
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            shown = "empty" if not default.get_secret_value() else "(set)"
        elif default is None or default == "":
            shown = "none" if default is None else "empty"
        else:
            shown = f"`{default}`"
        rows.append((f"`CALLFLOOR_{name.upper()}`", shown, field.description or ""))
    return _table(("variable", "default", "meaning"), rows)


def kpi_table() -> str:
    """``KPI_COUNTERS``: the counters one call adds to its rep's day."""
    from schemas.kpis import KPI_COUNTERS

    rows = [
        (f"`{c.name}`", f"`{c.column}`", str(c.unit), "day, month" if c.monthly else "day", c.help,
         f"`{c.rule}`")
        for c in KPI_COUNTERS
    ]
    return _table(("counter", "calls column", "unit", "periods", "what counts", "rule"), rows)


def member_descriptions(enum: type[Enum]) -> dict[str, str]:
    """Each member's one description in the enum's source: the string literal right after it
    (an attribute docstring), else its trailing ``# comment``."""
    source = textwrap.dedent(inspect.getsource(enum))
    descriptions: dict[str, str] = {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    for node, after in zip(body.body, [*body.body[1:], None], strict=True):
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            descriptions[name] = " ".join(str(after.value.value).split())
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            line = source.splitlines()[tok.start[0] - 1]
            name = line.split("=")[0].strip()
            if name in enum.__members__ and name not in descriptions:
                descriptions[name] = tok.string.lstrip("# ").strip()
    return descriptions


def rejections_table() -> str:
    """The worker's reasons, then the importer's (a dialer record that never became a CDR)."""
    from ingest.rejects import IngestRejection
    from schemas.rejections import Rejection

    rows = []
    for enum, who in ((Rejection, "worker"), (IngestRejection, "`callfloor ingest`")):
        descriptions = member_descriptions(enum)
        rows += [(f"`{m.value}`", who, descriptions.get(m.name, "")) for m in enum]
    return _table(("reason", "given by", "meaning"), rows)


def ingest_rejections_table() -> str:
    """The importer's reasons alone, for the ingest page."""
    from ingest.rejects import IngestRejection

    descriptions = member_descriptions(IngestRejection)
    rows = [(f"`{m.value}`", descriptions.get(m.name, "")) for m in IngestRejection]
    return _table(("reason", "meaning"), rows)


def sql_settings_table() -> str:
    """The embedded endpoint's settings allowlist, as the fence defines it."""
    from deploy.local.clickhouse.fence_settings import markdown_table

    return markdown_table()


GENERATORS: dict[str, Callable[..., str]] = {
    "sql_settings": sql_settings_table,
    "settings": settings_table,
    "kpis": kpi_table,
    "rejections": rejections_table,
    "ingest_rejections": ingest_rejections_table,
}


def render(markdown: str) -> str:
    """The page with every marker replaced by its table; an unknown marker is an error."""

    def fill(match: re.Match[str]) -> str:
        name, arguments = match.group(1), match.group(2).split()
        if name not in GENERATORS:
            raise ValueError(f"unknown generated table {name!r} (known: {', '.join(GENERATORS)})")
        return GENERATORS[name](*arguments)

    return _MARKER.sub(fill, markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: fill the markers of every page."""
    return render(markdown)
