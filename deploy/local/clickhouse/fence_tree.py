"""ClickHouse's own parse of a statement, read back as a tree: ``EXPLAIN AST``.

``EXPLAIN AST`` prints the parser's tree, one node a line, indented by depth: the node's kind
(``SelectQuery``, ``Function``, ``TableIdentifier``, ...), its name, and ``(children N)``. It
only parses: nothing in the statement runs. The reading here is strict, so that a name that
smuggles a line break or a fake ``(children N)`` into the print-out makes the statement
unreadable (refused) rather than misread: every line must sit exactly one level below its
parent, and every node must have exactly the children it announced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from deploy.local.clickhouse.protocol import refused

# Node kinds whose names hold a space (every other kind is the line's first word).
_SPACED_KINDS = (
    "Storage definition", "Columns definition", "Dictionary definition", "Dictionary lifetime",
    "Dictionary layout", "Dictionary range", "Dictionary settings", "Refresh strategy definition",
    "SYSTEM query",
)  # fmt: skip
_SPACED_FIRST_WORDS = frozenset(kind.split(" ")[0] for kind in _SPACED_KINDS)
_CHILDREN = re.compile(r" \(children (\d+)\)$")
_ALIAS = re.compile(r" \(alias (.*)\)$")


@dataclass
class Node:
    """One node of the parse: ``kind`` (e.g. ``Function``), ``name`` (e.g. ``sum``), children."""

    kind: str
    name: str
    children: list[Node] = field(default_factory=list)
    expected: int = 0

    def walk(self) -> list[tuple[Node, Node | None]]:
        """Every (node, parent) pair, this node first, depth first."""
        pairs: list[tuple[Node, Node | None]] = []
        stack: list[tuple[Node, Node | None]] = [(self, None)]
        while stack:
            node, parent = stack.pop()
            pairs.append((node, parent))
            stack.extend((child, node) for child in reversed(node.children))
        return pairs


def parse_tree(dump: str) -> Node:
    """The tree ``EXPLAIN AST`` printed; ACCESS_DENIED if the print-out is not a well-formed tree."""
    stack: list[Node] = []
    root: Node | None = None
    for line in dump.rstrip("\n").split("\n"):
        text = line.lstrip(" ")
        depth = len(line) - len(text)
        node = _node(text)
        if depth == 0:
            if root is not None:
                raise refused("the parsed statement is not one tree")
            root = node
        else:
            if depth > len(stack):
                raise refused("the parsed statement could not be read (a name holds a line break?)")
            stack[depth - 1].children.append(node)
        del stack[depth:]
        stack.append(node)
    if root is None:
        raise refused("the statement parsed to nothing")
    for node, _ in root.walk():
        if len(node.children) != node.expected:
            raise refused("the parsed statement could not be read (a name holds a line break?)")
    return root


def _node(text: str) -> Node:
    expected = 0
    if match := _CHILDREN.search(text):
        expected, text = int(match.group(1)), text[: match.start()]
    text = _ALIAS.sub("", text)
    kind = text.split(" ", 1)[0]
    if kind in _SPACED_FIRST_WORDS:
        kind = next((k for k in _SPACED_KINDS if text == k or text.startswith(k + " ")), kind)
    if not kind:
        raise refused("the parsed statement could not be read")
    return Node(kind, text[len(kind) :].strip(), expected=expected)
