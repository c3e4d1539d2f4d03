"""Lines a test adds to the terminal summary (chaos figures, attack answers).

They travel on the test's report as user properties, so they reach the process that
prints the summary also under pytest-xdist, where tests run in worker processes whose
module globals the controller never sees.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableSequence
from contextlib import contextmanager

import pytest

_PREFIX = "summary: "
_SECTIONS: dict[str, list[str]] = {}  # in the printing process: section -> lines, in report order


@contextmanager
def lines_added_to(node: pytest.Item, section: str, lines: MutableSequence[str]) -> Iterator[None]:
    """Lines appended to ``lines`` while the block runs go to ``section`` of the summary."""
    start = len(lines)
    try:
        yield
    finally:
        node.user_properties.extend((_PREFIX + section, line) for line in lines[start:])


def collect(report: pytest.TestReport) -> None:
    """From a ``pytest_runtest_logreport`` hook: keep the summary lines a test carried."""
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if isinstance(name, str) and name.startswith(_PREFIX):
            _SECTIONS.setdefault(name.removeprefix(_PREFIX), []).append(str(value))


def write(terminal: pytest.TerminalReporter) -> None:
    for section, lines in _SECTIONS.items():
        terminal.section(section)
        for line in lines:
            terminal.write_line(line)
