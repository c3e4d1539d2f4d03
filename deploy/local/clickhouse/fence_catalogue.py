"""The ordinary functions a statement may call: a reviewed snapshot, so a new release fails closed.

``allowed_functions.txt`` lists every function of the pinned chdb that the fence lets through,
one a line, with ``aggregate`` / ``ci`` (case-insensitive) flags. It is generated from that
release's ``system.functions`` minus :data:`DENIED`, the reviewed list of functions that reach
files, other servers, programs, dictionaries, named collections or the process's own memory::

    .venv/bin/python -m deploy.local.clickhouse.fence_catalogue \
        > deploy/local/clickhouse/allowed_functions.txt

A chdb upgrade adds functions that are in no list: the fence refuses them until someone reviews
them and regenerates the file (tests/attack/test_rules.py fails until then, naming them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("allowed_functions.txt")

# Reviewed: what each family reaches, and why no analyst needs it through this endpoint.
DENIED = re.compile(
    r"""^(?:
      ai[A-Z].*|AI[A-Z].*                  # aiGenerate & co.: HTTP to a model through a named collection
    | dict[A-Z].*                          # dictGet & co.: sources are files, URLs, servers, programs
    | file | filesystem.*                  # the server's files and disks
    | addressTo.* | demangle | trap        # the process's own memory and code
    | naiveBayesClassifier.* | catboost.*  # models loaded from server paths
    | showCertificate | getServerSetting   # the server's configuration
    | generateSerialID | zookeeper.*       # Keeper
    | sleep | sleepEachRow                 # holds the engine's one lock for nothing
    | __.*                                 # internal functions, not meant to be called by name
    )$""",
    re.X,
)
# Parser-made names that are not in system.functions.
SYNTAX = ("lambda", "exists")


@dataclass(frozen=True)
class Catalogue:
    """The snapshot, read: names as listed, the case-insensitive ones lower-cased, aggregates."""

    exact: frozenset[str]
    folded: frozenset[str]
    aggregates: frozenset[str]

    @classmethod
    def load(cls, path: Path = SNAPSHOT) -> Catalogue:
        exact, folded, aggregates = set(SYNTAX), set(), set()
        for line in path.read_text().splitlines():
            name, *flags = line.split()
            exact.add(name)
            if "ci" in flags:
                folded.add(name.lower())
            if "aggregate" in flags:
                aggregates.add(name.lower() if "ci" in flags else name)
        return cls(frozenset(exact), frozenset(folded), frozenset(aggregates))

    def allows(self, name: str, combinators: tuple[str, ...]) -> bool:
        """``name`` is listed, or is a listed aggregate function behind combinators (``sumIf``,
        ``uniqStateMerge``, ``countOrNull``)."""
        return name in self.exact or name.lower() in self.folded or self._aggregate(name, combinators)

    def _aggregate(self, name: str, combinators: tuple[str, ...]) -> bool:
        if name in self.aggregates or name.lower() in self.aggregates:
            return True
        return any(
            name.endswith(suffix)
            and len(name) > len(suffix)
            and self._aggregate(name[: -len(suffix)], combinators)
            for suffix in combinators
        )


def snapshot_lines(rows: list[tuple[str, int, int]]) -> list[str]:
    """The snapshot file's lines from (name, is_aggregate, case_insensitive) rows of system.functions."""
    lines = []
    for name, aggregate, insensitive in sorted(rows):
        if DENIED.match(name):
            continue
        flags = (["aggregate"] if aggregate else []) + (["ci"] if insensitive else [])
        lines.append(" ".join([name, *flags]))
    return lines


def engine_rows(session: Any) -> list[tuple[str, int, int]]:
    """system.functions of the installed chdb, read through ``session``."""
    query = "SELECT name, is_aggregate, case_insensitive FROM system.functions"
    text = session.query(query, "TSV").bytes().decode()
    return [(n, int(a), int(c)) for n, a, c in (line.split("\t") for line in text.splitlines())]


if __name__ == "__main__":
    from chdb import session as chdb_session

    with chdb_session.Session() as owner:
        print("\n".join(snapshot_lines(engine_rows(owner))))
