"""CSV that a spreadsheet opens without running anything: the one writer for reports and payroll.

A rep id like ``=HYPERLINK("http://x","pay")`` is a formula to Excel, LibreOffice and
Google Sheets when a clerk opens the file. Following OWASP's "CSV Injection" advice, a
text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (and
their full-width forms, which some East Asian spreadsheet set-ups read as the same) gets a
leading single quote, which spreadsheets show as text and never evaluate.

Numbers stay numbers: an int, a Decimal, or a text cell that is a plain decimal number
(``-12.50``, a revenue adjustment) is written as it is, so sums in the sheet still work. A
plain number cannot be a formula; ``-1+2`` or ``-2e3`` are not plain numbers and are quoted.
Lines end in CRLF, as RFC 4180 and spreadsheets expect.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import chain
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")


def safe_cell(value: object) -> object:
    """The cell as written: text that a spreadsheet would run is prefixed with ``'``."""
    if isinstance(value, Decimal):
        return format(value, "f")  # never "1E+2"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def write_csv(
    out: TextIO, rows: Iterable[Mapping[str, object]], columns: Sequence[str] | None = None
) -> None:
    """Header and rows, every cell through :func:`safe_cell`; ``columns`` default to the first
    row's keys.

    Nothing is written for no rows and no columns (there is no header to give)."""
    rows = iter(rows)
    first = next(rows, None)
    if columns is None:
        if first is None:
            return
        columns = list(first)
    # CRLF (RFC 4180): the writer then quotes any cell holding a CR or LF; with "\n" alone a
    # bare CR stayed unquoted and a spreadsheet started a new row, formula first, after it
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in columns])
    if first is None:
        return
    for row in chain((first,), rows):
        writer.writerow([safe_cell(row.get(name)) for name in columns])
