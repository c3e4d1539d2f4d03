"""The targets file: values as resolved, every error with its line and field, hot reload."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from textwrap import dedent

import pytest

from schemas.targets import TargetsError, TargetSet, load_targets, parse_targets
from streams.targets_watch import TargetsWatcher

ROOT = Path(__file__).resolve().parents[2]

VALID = """\
version: 1
effective_from: 2026-11-01
defaults:
  daily:   {dials: 200, connects: 20, valid_connects: 10, talk_minutes: 60}
  monthly: {sales: 20, revenue: "50000.00", new_customers: 8}
teams:
  team-01: {daily: {dials: 2500}}
  team-03: {monthly: {sales: 5}}
reps:
  rep-001: {team: team-01}
  rep-002: {team: team-01, daily: {dials: 150}}
  rep-003: {team: team-02, daily: {dials: 0, talk_minutes: 0}, monthly: {revenue: 1234.5}}
  1001: {team: team-02}
"""

DEFAULT_DAY = {("day", "dials"): 200, ("day", "connects"): 20, ("day", "valid_connects"): 10,
               ("day", "talk_seconds"): 3600}  # fmt: skip
DEFAULT_MONTH = {("month", "sales"): 20, ("month", "revenue"): Decimal("50000.00"),
                 ("month", "new_customers"): 8}  # fmt: skip


def parse(text: str) -> TargetSet:
    return parse_targets(dedent(text).encode(), "targets.yaml")


def error_of(text: str) -> TargetsError:
    with pytest.raises(TargetsError) as caught:
        parse(text)
    return caught.value


# ------------------------------------------------------------------ values


def test_defaults_merge_metric_by_metric_and_minutes_become_seconds() -> None:
    targets = parse(VALID)
    assert targets.effective_from == date(2026, 11, 1)
    assert dict(targets.rep("rep-001")) == DEFAULT_DAY | DEFAULT_MONTH
    assert dict(targets.rep("rep-002")) == DEFAULT_DAY | DEFAULT_MONTH | {("day", "dials"): 150}
    assert targets.team_of("rep-002") == "team-01"


def test_zero_targets_are_kept_as_zero() -> None:
    rep = parse(VALID).rep("rep-003")
    assert rep[("day", "dials")] == 0 and rep[("day", "talk_seconds")] == 0
    assert rep[("month", "revenue")] == Decimal("1234.50")


def test_rep_without_target_is_empty() -> None:
    targets = parse(VALID)
    assert targets.rep("rep-999") == {} and targets.team_of("rep-999") is None
    assert targets.team("team-999") == {}
    bare = parse("version: 1\nreps: {rep-001: {team: t}}\n")
    assert bare.rep("rep-001") == {} and bare.team_of("rep-001") == "t"
    assert parse("version: 1\n").rows() == []


def test_keys_are_text_as_written() -> None:
    targets = parse(VALID)
    assert targets.team_of("1001") == "team-02"
    assert 1001 not in targets.reps


def test_team_is_the_sum_of_its_reps_unless_set() -> None:
    targets = parse(VALID)
    team1 = targets.team("team-01")
    assert team1[("day", "dials")] == 2500  # explicit beats 200 + 150
    assert team1[("day", "connects")] == 40  # summed
    assert team1[("day", "talk_seconds")] == 7200
    assert team1[("month", "revenue")] == Decimal("100000.00")
    assert targets.teams["team-01"].explicit == {("day", "dials")}
    team2 = targets.team("team-02")  # rep-003 (zeros, own revenue) + 1001 (defaults)
    assert team2[("day", "dials")] == 200
    assert team2[("month", "revenue")] == Decimal("51234.50")
    assert dict(targets.team("team-03")) == {("month", "sales"): 5}  # a team with no reps


def test_rows_are_flat_and_stable() -> None:
    targets = parse(VALID)
    rows = targets.rows()
    assert rows == parse(VALID).rows()
    assert ("rep", "rep-002", "team-01", "day", "dials", 150) in rows
    assert ("team", "team-01", "team-01", "day", "dials", 2500) in rows
    assert ("team", "team-03", "team-03", "month", "sales", 5) in rows
    assert len(rows) == 4 * 7 + 2 * 7 + 1
    assert rows[0][:5] == ("rep", "1001", "team-02", "day", "dials")


def test_sha256_is_of_the_bytes_and_example_file_is_valid() -> None:
    assert parse(VALID).sha256 == parse(VALID).sha256 != parse(VALID + "# note\n").sha256
    example = load_targets(ROOT / "deploy" / "targets.example.yaml")
    assert len({rep.team for rep in example.reps.values()}) == 3 and len(example.reps) == 10


def test_merge_keys_work_and_explicit_keys_win() -> None:
    targets = parse("""\
        version: 1
        reps:
          rep-001: &base {team: t, daily: {dials: 5}}
          rep-002:
            <<: *base
            daily: {dials: 7}
        """)
    assert targets.rep("rep-002") == {("day", "dials"): 7} and targets.team_of("rep-002") == "t"


# ------------------------------------------------------------------ errors: line and field


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("version: 1\nreps:\n  rep-002: {team: t, daily: {dials: -5}}\n",
         3, "reps.rep-002.daily.dials", "must be >= 0 (got -5)"),
        ("version: 1\nreps:\n  r: {team: t}\n  rep-002:\n    team: t\n    daily:\n      dials: '200'\n",
         7, "reps.rep-002.daily.dials", "must be a whole number (got '200')"),
        ("version: 1\ndefaults:\n  daily: {dials: 2.5}\n", 3, "defaults.daily.dials", "whole number"),
        ("version: 1\ndefaults:\n  daily: {dials: true}\n", 3, "defaults.daily.dials", "whole number"),
        ("version: 1\nteams:\n  t:\n    monthly:\n      revenue: '12.345'\n",
         5, "teams.t.monthly.revenue", "at most 2 decimal places"),
        ("version: 1\nteams:\n  t: {monthly: {revenue: -1}}\n", 3, "teams.t.monthly.revenue", ">= 0"),
        ("version: 1\nteams:\n  t: {monthly: {revenue: abc}}\n", 3, "teams.t.monthly.revenue", "amount"),
        ("version: 1\nreps:\n  r:\n    team: t\n    daily: {calls: 3}\n",
         5, "reps.r.daily.calls", "unknown daily metric 'calls'"),
        ("version: 1\nreps:\n  r: {team: t, monthly: {profit: 3}}\n",
         3, "reps.r.monthly.profit", "unknown monthly metric 'profit'"),
        ("version: 1\nreps:\n  r: {team: t}\n  s:\n    team: t\n    weekly: {dials: 1}\n",
         6, "reps.s.weekly", "unknown key 'weekly' (allowed: team, daily, monthly)"),
        ("version: 1\ntargets: {}\n", 2, "targets", "unknown key 'targets'"),
        ("version: 1\ndefaults: {daily: {calls: 1}}\n", 2, "defaults.daily.calls", "unknown daily metric"),
        ("version: 1\ndefaults: {weekly: {}}\n", 2, "defaults.weekly", "(allowed: daily, monthly)"),
        ("version: 1\nteams: {daily: {team: x}}\n", 2, "teams.daily.team", "(allowed: daily, monthly)"),
        ("version: 1\nreps: {monthly: {team: x, x: 1}}\n", 2, "reps.monthly.x", "(allowed: team, daily"),
        ("version: 1\nreps:\n  r: {team: t}\n  rep-002:\n    daily: {dials: 1}\n",
         4, "reps.rep-002.team", "required"),
        ("version: 1\nreps:\n  r: {team: 7}\n", 3, "reps.r.team", "must be text"),
        ("version: 1\nreps:\n  r: {team: ''}\n", 3, "reps.r.team", "must not be empty"),
        ("version: 1\nreps:\n  r: 5\n", 3, "reps.r", "must be a mapping"),
        ("version: 2\n", 1, "version", "must be 1 (got 2)"),
        ("reps: {}\n", 1, "version", "required"),
        ("version: 1\neffective_from: tomorrow\n", 2, "effective_from", "must be a date"),
    ],
)  # fmt: skip
def test_invalid_values_name_line_and_field(text: str, line: int, field: str, message: str) -> None:
    error = error_of(text)
    assert (error.line, error.field) == (line, field)
    assert message in str(error)
    assert str(error).startswith(f"targets.yaml line {line}: {field}: ")


def test_message_format_matches_the_contract() -> None:
    text = VALID.replace("daily: {dials: 150}", "daily: {dials: -5}")
    assert str(error_of(text)) == "targets.yaml line 11: reps.rep-002.daily.dials: must be >= 0 (got -5)"


def test_every_problem_is_listed_in_line_order() -> None:
    error = error_of("version: 1\nreps:\n  a: {team: t, daily: {dials: -1}}\n  b: {daily: {x: 1}}\n")
    assert [(p.line, p.field) for p in error.problems] == [
        (3, "reps.a.daily.dials"), (4, "reps.b.daily.x"), (4, "reps.b.team")]  # fmt: skip
    assert len(str(error).splitlines()) == 3


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("version: 1\nreps:\n  rep-001: {team: a}\n  rep-002: {team: a}\n  rep-001: {team: b}\n",
         5, "reps.rep-001"),
        ("version: 1\nreps:\n  r: {team: a, daily: {dials: 1, dials: 2}}\n", 3, "reps.r.daily.dials"),
        ("version: 1\nversion: 1\n", 2, "version"),
    ],
)  # fmt: skip
def test_duplicate_keys_are_refused(text: str, line: int, field: str) -> None:
    error = error_of(text)
    assert (error.line, error.field) == (line, field)
    assert "duplicate key" in str(error) and "first at line" in str(error)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("version: 1\nreps:\n  r: {team: a, daily: {dials: 1}\n", 4),  # unclosed flow mapping
        ("version: 1\n  reps: {}\n", 2),
        ("version: 1\nreps:\n\trep: 1\n", 3),
        ("version: 1\nreps: *nowhere\n", 2),
        ("", 1),
    ],
)
def test_bad_yaml_names_its_line(text: str, line: int) -> None:
    error = error_of(text)
    assert error.line == line and error.field is None
    assert str(error).startswith(f"targets.yaml line {line}: ")


def test_not_utf8_names_its_line() -> None:
    with pytest.raises(TargetsError, match=r"targets.yaml line 2: not UTF-8"):
        parse_targets(b"version: 1\nreps: {\xff: 1}\n", "targets.yaml")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match=r"nope.yaml: cannot read file: No such file"):
        load_targets(tmp_path / "nope.yaml")
    with pytest.raises(TargetsError, match="cannot read file"):
        load_targets(tmp_path)  # a directory


# ------------------------------------------------------------------ watcher


class Floor:
    """A targets file on disk that a supervisor edits, and a watcher on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reported: list[TargetsError] = []
        self.watcher = TargetsWatcher(path, on_error=self.reported.append)
        self._tick = 0

    def save(self, text: str) -> None:
        """Write and move mtime forward, so coarse file-system clocks cannot hide the change."""
        self.path.write_text(dedent(text))
        self._tick += 1
        stamp = 1_800_000_000_000_000_000 + self._tick * 1_000_000_000
        os.utime(self.path, ns=(stamp, stamp))


def rep_file(dials: int | str) -> str:
    return f"version: 1\nreps:\n  rep-001: {{team: t, daily: {{dials: {dials}}}}}\n"


@pytest.fixture
def floor(tmp_path: Path) -> Floor:
    floor = Floor(tmp_path / "targets.yaml")
    floor.save(rep_file(100))
    assert floor.watcher.load_initial() is floor.watcher.current
    return floor


def dials(watcher: TargetsWatcher) -> int:
    assert watcher.current is not None
    return watcher.current.rep("rep-001")[("day", "dials")]


def test_no_file_configured_means_no_targets() -> None:
    watcher = TargetsWatcher(None)
    assert watcher.load_initial() is None and watcher.check() is False and watcher.current is None


def test_start_refuses_missing_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match="cannot read file"):
        TargetsWatcher(tmp_path / "targets.yaml").load_initial()
    (tmp_path / "targets.yaml").write_text(rep_file(-1))
    with pytest.raises(TargetsError, match=r"line 3: reps.rep-001.daily.dials: must be >= 0"):
        TargetsWatcher(tmp_path / "targets.yaml").load_initial()


def test_unchanged_file_is_not_reloaded(floor: Floor) -> None:
    first = floor.watcher.current
    assert floor.watcher.check() is False
    floor.save(rep_file(100))  # same content, new mtime
    assert floor.watcher.check() is False and floor.watcher.current is first


def test_reload_on_change(floor: Floor) -> None:
    first_loaded = floor.watcher.loaded_at
    floor.save(rep_file(120))
    assert floor.watcher.check() is True
    assert floor.watcher.loaded_at is not None and first_loaded is not None
    assert floor.watcher.loaded_at >= first_loaded and floor.watcher.loaded_at.tzinfo is not None
    assert dials(floor.watcher) == 120 and floor.watcher.reloads == 1
    assert floor.watcher.check() is False


def test_invalid_file_keeps_previous_reports_once_and_recovers(floor: Floor) -> None:
    floor.save(rep_file(-5))
    for _ in range(3):
        assert floor.watcher.check() is False
    assert dials(floor.watcher) == 100
    assert floor.watcher.errors == 1 and len(floor.reported) == 1
    assert "line 3: reps.rep-001.daily.dials: must be >= 0 (got -5)" in str(floor.reported[0])
    assert floor.watcher.last_error is floor.reported[0]

    floor.save(rep_file(-5))  # saved again, same broken content: not reported again
    assert floor.watcher.check() is False and floor.watcher.errors == 1
    floor.save(rep_file("x"))  # a different mistake is reported
    assert floor.watcher.check() is False and floor.watcher.errors == 2
    assert "must be a whole number" in str(floor.reported[1])

    floor.save(rep_file(130))
    assert floor.watcher.check() is True
    assert dials(floor.watcher) == 130 and floor.watcher.last_error is None


def test_broken_then_put_back_clears_the_error(floor: Floor) -> None:
    floor.save("version: 1\nreps: {\n")
    assert floor.watcher.check() is False and floor.watcher.errors == 1
    floor.save(rep_file(100))
    assert floor.watcher.check() is False  # same content as in force: nothing to reload
    assert floor.watcher.last_error is None and dials(floor.watcher) == 100


def test_vanished_file_keeps_previous(floor: Floor) -> None:
    floor.path.unlink()
    for _ in range(3):
        assert floor.watcher.check() is False
    assert dials(floor.watcher) == 100 and floor.watcher.errors == 1
    assert "cannot read file" in str(floor.reported[0])
    floor.save(rep_file(140))
    assert floor.watcher.check() is True and dials(floor.watcher) == 140


def test_replaced_by_rename_is_seen(floor: Floor, tmp_path: Path) -> None:
    staged = Floor(tmp_path / "staged.yaml")
    staged.save(rep_file(150))
    os.replace(staged.path, floor.path)
    assert floor.watcher.check() is True and dials(floor.watcher) == 150


def test_in_force_follows_effective_from(floor: Floor) -> None:
    first = floor.watcher.current
    floor.save("effective_from: 2026-12-01\n" + rep_file(300))
    assert floor.watcher.check() is True
    assert floor.watcher.in_force(date(2026, 11, 30)) is first
    assert floor.watcher.in_force(date(2026, 12, 1)) is floor.watcher.current
    fresh = TargetsWatcher(floor.path)
    fresh.load_initial()
    assert fresh.in_force(date(2026, 11, 30)) is None
