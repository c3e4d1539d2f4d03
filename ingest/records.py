"""Dialer lines -> named fields: CSV rows (with or without a header) and JSON objects.

Shared by the format adapters, which differ only in column names and in what the fields mean.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import orjson

from ingest.rejects import IngestRejection, Unmappable
from ingest.sources import LineFeed, SourceRecord, decode

# given a row (the first one of a file, or any later one), the column names to read it with,
# and whether that row was a header
Layout = Callable[[list[str], bool], tuple[list[str] | None, bool]]


class _Names:
    """The column names a file's rows are read with: its header row's once seen, else the layout's."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.header: list[str] | None = None
        self.first = True

    def of(self, row: list[str]) -> tuple[list[str] | None, bool]:
        """(names for ``row``, whether ``row`` was the header)."""
        if self.header is not None:
            return self.header, False
        columns, was_header = self.layout(row, self.first)
        self.first = False
        if was_header:
            self.header = columns
        return columns, was_header


def csv_records(feed: LineFeed, origin: str, layout: Layout) -> Iterator[SourceRecord]:
    """Rows as name -> value, numbered by their first line; a row of the wrong width has a problem.

    CSV, or ``mysql --batch`` output (:func:`tsv_records`), told apart by the first line.
    """
    first_line = next(feed, None)
    if first_line is None:
        return
    lines = itertools.chain([first_line], feed)
    if _tab_separated(first_line):
        yield from tsv_records(lines, feed, origin, layout)
        return
    reader = csv.reader(lines)
    names = _Names(layout)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line, raw = feed.take()
            yield SourceRecord(origin, line, raw, problem=f"not CSV: {exc}")
            continue
        line, raw = feed.take()
        if not row or row == [""]:
            continue
        columns, was_header = names.of(row)
        if was_header:
            continue
        if columns is not None and len(row) == len(columns):
            yield SourceRecord(origin, line, raw, dict(zip(columns, row, strict=True)))
        elif b"\n" in raw:
            yield from _line_by_line(origin, line, raw, names.header, layout)
        else:
            yield _wrong_width(origin, line, raw, row, columns)


def _tab_separated(first_line: str) -> bool:
    """``mysql --batch`` output: its first line splits into more fields at tabs than at commas."""
    return "\t" in first_line and first_line.count("\t") + 1 > len(next(csv.reader([first_line]), []))


# mysql --batch escapes these in values (and writes SQL NULL as NULL); --raw would not
MYSQL_ESCAPES = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\", "r": "\r", "b": "\b", "Z": "\x1a"}
MYSQL_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
MYSQL_NULLS = frozenset({"NULL", "\\N"})


def _mysql_value(text: str) -> str:
    if text in MYSQL_NULLS:
        return ""
    if "\\" not in text:
        return text
    return MYSQL_ESCAPE.sub(lambda m: MYSQL_ESCAPES.get(m[1], m[1]), text)


def tsv_records(lines: Iterable[str], feed: LineFeed, origin: str, layout: Layout) -> Iterator[SourceRecord]:
    """``mysql --batch`` rows: tab-separated, one per line (tabs, newlines and backslashes inside
    values are escaped as ``\\t`` ``\\n`` ``\\\\``), SQL NULL written ``NULL`` (or ``\\N``): read as empty,
    which also makes a text that is literally NULL empty. Commas are data."""
    names = _Names(layout)
    for text in lines:
        line, raw = feed.take()
        body = text.rstrip("\r\n")
        if not body:
            continue
        row = [_mysql_value(value) for value in body.split("\t")]
        columns, was_header = names.of(row)
        if was_header:
            continue
        if columns is not None and len(row) == len(columns):
            yield SourceRecord(origin, line, raw, dict(zip(columns, row, strict=True)))
        else:
            yield _wrong_width(origin, line, raw, row, columns)


def _wrong_width(
    origin: str, line: int, raw: bytes, row: list[str], columns: list[str] | None
) -> SourceRecord:
    expected = str(len(columns)) if columns else "a known layout"
    return SourceRecord(origin, line, raw, problem=f"{len(row)} columns, expected {expected}")


def _line_by_line(
    origin: str, line: int, raw: bytes, header: list[str] | None, layout: Layout
) -> Iterator[SourceRecord]:
    """A bad record that spans lines is read again one line at a time.

    A row cut short by a crash leaves a quote open, which swallows the next line; read
    alone, the cut row is unreadable and the next one is whole again.
    """
    for offset, text in enumerate(raw.split(b"\n")):
        row = next(csv.reader([decode(text)]), [])
        columns = header if header is not None else layout(row, False)[0]
        if columns is not None and len(row) == len(columns):
            yield SourceRecord(origin, line + offset, text, dict(zip(columns, row, strict=True)))
        elif row:
            yield _wrong_width(origin, line + offset, text, row, columns)


def _scalars(document: Mapping[str, object], *, url_encoded: bool) -> dict[str, str]:
    fields = {}
    for name, value in document.items():
        if isinstance(value, str):
            fields[name] = unquote(value) if url_encoded else value
        elif isinstance(value, bool):
            fields[name] = "true" if value else "false"
        elif isinstance(value, int | float):
            fields[name] = str(value)
    return fields


def json_records(
    feed: LineFeed, origin: str, pick: Callable[[dict[str, Any]], dict[str, str]], *, whole: bool = False
) -> Iterator[SourceRecord]:
    """JSON objects -> their fields via ``pick``: one per line (JSON lines), or one per file
    (``whole``), or (recognised by a first line that is not a whole JSON value but opens one)
    pretty-printed documents one after another or in an array, as ``jq`` and
    ``cat *.cdr.json`` print them. An array on one line is its objects."""
    if whole:
        text = "".join(feed)
        chunks: Iterator[tuple[int, bytes]] = iter([feed.take()] if text.strip() else [])
    else:
        chunks = (chunk for _ in feed if (chunk := feed.take())[1].strip())
    for line, raw in chunks:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if not whole and raw.lstrip()[:1] in (b"{", b"["):
                "".join(feed)  # the rest of the input, blank lines and all, for its bytes
                yield from _documents(origin, line, raw + b"\n" + feed.take()[1], pick)
                return
            yield SourceRecord(origin, line, raw, problem=f"not JSON: {exc}")
            continue
        yield from _objects(origin, line, raw, document, pick)


def _objects(
    origin: str, line: int, raw: bytes, document: object, pick: Callable[[dict[str, Any]], dict[str, str]]
) -> Iterator[SourceRecord]:
    """A JSON object is one record; an array of objects is its objects, each with its own bytes."""
    if isinstance(document, list) and document and all(isinstance(item, dict) for item in document):
        for item in document:
            yield _object(origin, line, orjson.dumps(item), item, pick)
    else:
        yield _object(origin, line, raw, document, pick)


def _object(
    origin: str, line: int, raw: bytes, document: object, pick: Callable[[dict[str, Any]], dict[str, str]]
) -> SourceRecord:
    if isinstance(document, dict):
        return SourceRecord(origin, line, raw, pick(document))
    return SourceRecord(origin, line, raw, problem=f"expected a JSON object, got {type(document).__name__}")


def _documents(
    origin: str, first_line: int, raw: bytes, pick: Callable[[dict[str, Any]], dict[str, str]]
) -> Iterator[SourceRecord]:
    """Pretty-printed JSON values one after another (the rest of the input), each numbered by
    the line it starts on; the elements of a top-level array are records of their own."""
    text = decode(raw)
    decoder = json.JSONDecoder()
    position, line, in_array = 0, first_line, False
    while True:
        start = _skip(text, position, " \t\r\n," if in_array else " \t\r\n")
        line += text.count("\n", position, start)
        if start >= len(text):
            return
        if text[start] == ("]" if in_array else "["):  # into or out of a top-level array
            in_array, position = not in_array, start + 1
            continue
        try:
            document, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            yield SourceRecord(origin, line, text[start:].encode(), problem=f"not JSON: {exc}")
            return
        yield _object(origin, line, text[start:position].encode(), document, pick)
        line += text.count("\n", start, position)


def _skip(text: str, position: int, characters: str) -> int:
    while position < len(text) and text[position] in characters:
        position += 1
    return position


def flat_fields(document: dict[str, Any]) -> dict[str, str]:
    return _scalars(document, url_encoded=False)


def encoded_fields(document: Mapping[str, object]) -> dict[str, str]:
    """Values URL-encoded by the writer (mod_json_cdr's default ``encode-values``)."""
    return _scalars(document, url_encoded=True)


def required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise Unmappable(IngestRejection.MISSING_FIELD, f"{name}: empty or absent")
    return value


def whole_seconds(fields: Mapping[str, str], name: str) -> int:
    text = required(fields, name)
    try:
        value = float(text)
    except ValueError:
        raise Unmappable(IngestRejection.BAD_NUMBER, f"{name}: {text!r} is not a number") from None
    if value < 0 or value != value:
        raise Unmappable(IngestRejection.BAD_NUMBER, f"{name}: {text!r} is negative")
    return int(value)
