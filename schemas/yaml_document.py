"""Hand-edited YAML files validated by pydantic, with errors that name the line.

Shared by the targets file and the pay plan: supervisors and payroll clerks edit
these by hand, so a mistake must be refused as ``FILE line N: FIELD: problem``,
never half-applied. Parsing goes YAML text -> composed node tree (which keeps line
marks) -> plain data -> pydantic model; a pydantic error location is walked back
through the node tree to the line it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Model = TypeVar("Model", bound=BaseModel)
# How to word an unknown key: (key name, location of the mapping it stands in) -> message.
UnknownKey = Callable[[str, tuple[object, ...]], str]


@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str | None
    message: str


class YamlFileError(ValueError):
    """A file that cannot be used; ``str()`` names the file, line and field, one line per problem.

    For example ``plan.yaml line 12: roles.rep.base: must be >= 0 (got -5)``.
    ``line`` and ``field`` are the first problem's.
    """

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        first = self.problems[0]
        self.line, self.field = first.line, first.field
        super().__init__("\n".join(self._format(p) for p in self.problems))

    def _format(self, problem: Problem) -> str:
        where = self.source if problem.line is None else f"{self.source} line {problem.line}"
        field = f"{problem.field}: " if problem.field else ""
        return f"{where}: {field}{problem.message}"


class FieldError(ValueError):
    """Raised by a model validator about one of its fields: ``loc`` (below the model) finds the line."""

    def __init__(self, loc: tuple[object, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


# libyaml's parser when PyYAML was built with it (its wheels are): a 10,000-rep targets file
# parsed 3.7 times faster than with the pure-Python one (benchmarks/targets_parse.py); both
# keep the line marks errors are reported with.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]  # a base chosen at import time
    """SafeLoader whose mapping keys are always their text as written.

    ``1001:`` is rep "1001" and ``no:`` is the key "no", not False: ids are text
    in CDRs, so they are text here too.
    """

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, object]:
        self.flatten_mapping(node)  # YAML merge keys (<<: *base); later explicit keys win
        return {k.value: self.construct_object(v, deep=deep) for k, v in node.value}


def read_limited(path: Path, max_bytes: int, error: type[YamlFileError]) -> bytes:
    """The file's bytes (at most ``max_bytes + 1``), or ``error`` saying why it cannot be read."""
    try:
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(str(path), [Problem(None, None, f"cannot read file: {exc.strerror or exc}")]) from exc


def parse_document(
    data: bytes,
    source: str,
    model: type[Model],
    *,
    error: type[YamlFileError],
    max_bytes: int,
    unknown: UnknownKey,
    messages: Callable[[ErrorDetails], str | None] = lambda error: None,
) -> Model:
    """Validate the bytes of a YAML file into ``model``; every problem raises ``error``.

    ``unknown`` words an unknown key (it knows what is allowed where); ``messages`` may
    word a pydantic error type of the caller's own (None: the shared wording).
    """
    if len(data) > max_bytes:
        raise error(source, [Problem(None, None, f"file is larger than {max_bytes} bytes")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(source, [Problem(line, None, "not UTF-8 text")]) from exc
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                raise error(source, [Problem(1, None, "file is empty")])
            _check_keys(source, root, (), error)
            raw = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise error(source, [_yaml_problem(exc)]) from exc
    except yaml.YAMLError as exc:
        raise error(source, [Problem(None, None, f"invalid YAML: {exc}")]) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(root, e, unknown, messages) for e in exc.errors()]
        raise error(source, sorted(problems, key=lambda p: p.line or 0)) from exc


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    """Where the parser stopped, and where the construct it was in began (an unclosed bracket)."""
    mark = exc.problem_mark or exc.context_mark
    message = f"invalid YAML: {exc.problem or 'cannot parse'}"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return Problem(mark.line + 1 if mark is not None else None, None, message)


def _check_keys(
    source: str, node: Node, path: tuple[str, ...], error: type[YamlFileError], seen: set[int] | None = None
) -> None:
    """Refuse duplicate and non-text keys, which PyYAML would otherwise silently accept."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias met again
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_keys(source, item, (*path, str(i)), error, seen)
    if not isinstance(node, MappingNode):
        return
    first_line: dict[str, int] = {}
    for key, value in node.value:
        line = key.start_mark.line + 1
        if key.tag == "tag:yaml.org,2002:merge":
            _check_keys(source, value, path, error, seen)
            continue
        if not isinstance(key, ScalarNode):
            raise error(source, [Problem(line, dotted(path), "a key must be plain text")])
        if key.value in first_line:
            message = f"duplicate key {key.value!r} (first at line {first_line[key.value]})"
            raise error(source, [Problem(line, dotted((*path, key.value)), message)])
        first_line[key.value] = line
        _check_keys(source, value, (*path, key.value), error, seen)


def dotted(path: Iterable[object]) -> str | None:
    return ".".join(str(part) for part in path) or None


def _line(root: Node, loc: tuple[object, ...]) -> int:
    """The 1-based line of the field a pydantic error location points at.

    Walks the location as far as it exists in the file and answers the line of
    the last key (or list item) found: the field itself, or for a missing field the
    mapping that lacks it.
    """
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, MappingNode):
            break
        matches = [(k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == str(part)]
        if not matches:
            break
        key, node = matches[-1]  # the last one wins, as in construct_mapping (merge keys first)
        line = key.start_mark.line + 1
    return line


def _problem(
    root: Node, error: ErrorDetails, unknown: UnknownKey, messages: Callable[[ErrorDetails], str | None]
) -> Problem:
    loc = tuple(part for part in error["loc"] if part != "[key]")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        return Problem(_line(root, (*loc, *cause.loc)), dotted((*loc, *cause.loc)), str(cause))
    if error["type"] == "extra_forbidden":
        message = unknown(str(loc[-1]), loc[:-1])
    else:
        message = messages(error) or _message(error)
    return Problem(_line(root, loc), dotted(loc), message)


def _got(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _message(error: ErrorDetails) -> str:
    """A short, human-readable sentence for one pydantic error."""
    kind, ctx, got = error["type"], error.get("ctx") or {}, _got(error.get("input"))
    messages = {
        "missing": "required",
        "greater_than_equal": f"must be >= {ctx.get('ge')} (got {got})",
        "greater_than": f"must be > {ctx.get('gt')} (got {got})",
        "less_than_equal": f"must be <= {ctx.get('le')} (got {got})",
        "int_type": f"must be a whole number (got {got})",
        "string_type": f"must be text (got {got})",
        "string_too_short": "must not be empty",
        "decimal_type": f'must be an amount like "50000.00" (got {got})',
        "decimal_parsing": f'must be an amount like "50000.00" (got {got})',
        "finite_number": f"must be a finite amount (got {got})",
        "decimal_max_places": f"at most {ctx.get('decimal_places')} decimal places (got {got})",
        "decimal_max_digits": f"too many digits (got {got})",
        "decimal_whole_digits": f"too many digits (got {got})",
        "literal_error": f"must be {ctx.get('expected')} (got {got})",
        "enum": f"must be {ctx.get('expected')} (got {got})",
        "model_type": f"must be a mapping of keys to values (got {got})",
        "model_attributes_type": f"must be a mapping of keys to values (got {got})",
        "dict_type": f"must be a mapping of keys to values (got {got})",
        "list_type": f"must be a list (got {got})",
        "too_short": f"must have at least {ctx.get('min_length')} item(s)",
        "value_error": str(ctx.get("error", error["msg"])),
    }
    if kind.startswith("date_"):
        return f"must be a date like 2026-11-01 (got {got})"
    return messages.get(kind, f"{error['msg']} (got {got})")
