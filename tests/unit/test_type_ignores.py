"""Every ``type: ignore`` names its error codes and says why (issue 25).

mypy (``make lint``) is strict on schemas, sinks, streams, payroll, ingest and wallboard; an
ignore there silences one checked error, so it must say which (``[arg-type]``: a bare ignore
would also hide the next, unrelated error on that line) and why it is right, in a comment on
the same line or on the line above.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SKIPPED_DIRS = {"build", "site", "__pycache__"}  # and every dot-directory (.venv, .git, caches)

IGNORE = re.compile(r"#\s*type:\s*ignore\b")
WITH_CODES = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\](?P<rest>.*)")
REASON = re.compile(r"^\s*#\s*\S")


def python_files() -> list[Path]:
    files = []
    for top, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]  # never the venv
        files += [Path(top, name) for name in names if name.endswith(".py")]
    return sorted(files)


def problems(source: str) -> tuple[int, list[str]]:
    """(how many ignores, what is wrong with them as 'line N: ...')."""
    lines = source.splitlines()
    comments = {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    ignored = {number for number, text in comments.items() if IGNORE.search(text)}
    wrong = []
    for number in sorted(ignored):
        found = WITH_CODES.search(comments[number])
        if found is None:
            wrong.append(f"line {number}: names no error code: {comments[number]}")
        elif not REASON.match(found["rest"]) and not _reason_above(lines, ignored, number):
            wrong.append(f"line {number}: gives no reason (a comment after it, or on the line above)")
    return len(ignored), wrong


def _reason_above(lines: list[str], ignored: set[int], number: int) -> bool:
    """A comment line above, past the lines just above that carry ignores of their own (one
    comment may explain two assignments in a row)."""
    above = number - 1
    while above in ignored:
        above -= 1
    return above >= 1 and lines[above - 1].lstrip().startswith("#")


@pytest.mark.parametrize(
    ("source", "wrong"),
    [
        ("x = f()  # type: ignore[arg-type]  # f is untyped\n", 0),
        ("# f is untyped\nx = f()  # type: ignore[arg-type]\ny = f()  # type: ignore[arg-type]\n", 0),
        ("x = f()  # type: ignore[arg-type,misc]  # two codes\n", 0),
        ("x = f()  # type: ignore\n", 1),
        ("x = f()  # type: ignore  # a reason, but no code\n", 1),
        ("x = f()  # type: ignore[arg-type]\n", 1),
        ("x = 1\ny = f()  # type: ignore[arg-type]\n", 1),
        ('x = "# type: ignore"  # a string, not an ignore\n', 0),
    ],
)
def test_the_rule(source: str, wrong: int) -> None:
    assert len(problems(source)[1]) == wrong


def test_every_type_ignore_names_its_codes_and_a_reason() -> None:
    total, wrong = 0, []
    for path in python_files():
        count, found = problems(path.read_text(encoding="utf-8"))
        total += count
        wrong += [f"{path.relative_to(ROOT)} {problem}" for problem in found]
    assert total > 0, "no ignore found at all: is the file search still looking at the project?"
    assert not wrong, "\n".join(wrong)
