"""The mapping file: rules, shorthands, and errors that name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.identity import IdentityResolver
from ingest.mapping import MappingError, load_mapping


def write(tmp_path: Path, text: str, name: str = "map.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rules_are_tried_in_order_and_the_lookup_decides_the_team(tmp_path: Path) -> None:
    write(tmp_path, "rep_id,team_id,campaign_id\n1001,north,\n1002,south,loans\n", "reps.csv")
    mapping = load_mapping(write(tmp_path, (
        "rep:\n  - {field: channel, pattern: 'SIP/(?P<rep>\\d+)-'}\n  - accountcode\n"
        "team: {value: nobody}\ncampaign: {field: userfield, pattern: 'c=(\\w+)'}\nlookup: {file: reps.csv}\n"
    )))  # fmt: skip
    resolver = IdentityResolver(mapping, {})
    assert resolver.identity({"channel": "SIP/1001-000a", "userfield": "c=solar"}) == (
        "1001",
        "north",
        "solar",
    )
    assert resolver.identity({"channel": "Local/x", "accountcode": "1002"}) == ("1002", "south", "loans")
    assert resolver.identity({"channel": "Local/x", "accountcode": "9"}) == ("9", "nobody", None)


def test_a_bad_regex_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "currency: CNY\nrep:\n  - field: channel\n    pattern: 'SIP/(?P<rep>'\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert f"{path}:4: rep.0.pattern:" in message


def test_an_unknown_key_and_a_bad_currency_are_both_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "currency: yuan\nrepp: accountcode\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    lines = str(caught.value).splitlines()
    assert any(line.startswith(f"{path}:1: currency:") for line in lines)
    assert any(line.startswith(f"{path}:2: repp:") for line in lines)


def test_a_rule_needs_a_field_or_a_value(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"map.yaml:2: team.0: .*either 'field'"):
        load_mapping(write(tmp_path, "team:\n  pattern: 'x'\n"))


def test_a_status_must_map_to_a_known_disposition(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"map.yaml:2: statuses.SALE.StatusRule.disposition"):
        load_mapping(write(tmp_path, "statuses:\n  SALE: {disposition: sold}\n"))


def test_not_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"map.yaml:2: not YAML"):
        load_mapping(write(tmp_path, "rep: accountcode\n  team: [\n"))


def test_lookup_with_two_teams_for_one_rep_names_the_row(tmp_path: Path) -> None:
    write(tmp_path, "rep_id,team_id\n1001,north\n1001,south\n", "reps.csv")
    mapping = load_mapping(write(tmp_path, "lookup: {file: reps.csv}\n"))
    with pytest.raises(MappingError, match=r"reps.csv:3: rep_id: '1001' is listed twice"):
        IdentityResolver(mapping, {})


def test_lookup_without_the_team_column(tmp_path: Path) -> None:
    write(tmp_path, "rep,team\n1001,north\n", "reps.csv")
    mapping = load_mapping(write(tmp_path, "lookup: {file: reps.csv}\n"))
    with pytest.raises(MappingError, match=r"reps.csv:1: no column 'rep_id'"):
        IdentityResolver(mapping, {})


def test_an_unknown_zone_in_the_mapping_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"map.yaml:2: timezone: .*unknown IANA time zone 'Mars/Base'"):
        load_mapping(write(tmp_path, "currency: CNY\ntimezone: Mars/Base\n"))
