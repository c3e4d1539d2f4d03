"""The worker keeps Faust's directory under the configured data directory, not the working one."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import Settings
from streams.app import create_app


def test_faust_datadir_lives_under_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    settings = Settings(data_dir=tmp_path / "state", app_id="datadir-probe")
    app = create_app(settings)
    assert Path(app.conf.datadir).resolve().is_relative_to((tmp_path / "state").resolve())
    assert not any(work.iterdir()), "creating the app wrote into the working directory"
