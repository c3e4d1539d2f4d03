"""A wallboard with a broken targets file refuses to start and names the line, like the worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.targets import TargetsError
from wallboard.server import Wallboard, run_wallboard


def test_a_bad_targets_file_stops_the_wallboard_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text("version: 1\ndefaults:\n  daily: {dials: -5}\n")
    settings = Settings(targets_file=bad)
    with pytest.raises(TargetsError, match="line 3"):
        Wallboard(settings)
    assert run_wallboard(settings) == 2
    out = capsys.readouterr().out
    assert str(bad) in out and "line 3" in out and "dials" in out


def test_a_good_targets_file_is_in_force_for_today(tmp_path: Path) -> None:
    good = tmp_path / "targets.yaml"
    good.write_text("version: 1\ndefaults:\n  daily: {dials: 80}\nreps:\n  rep-1: {team: t}\n")
    board = Wallboard(Settings(targets_file=good))
    targets = board.targets_today(1796140800.0)
    assert targets is not None and targets.rep("rep-1")[("day", "dials")] == 80
