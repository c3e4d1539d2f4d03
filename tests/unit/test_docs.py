"""The documentation site builds strictly, its generated tables have a definition for every
row, and every path the docs name exists (the README once named a module that had gone)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ingest.rejects import IngestRejection
from schemas.rejections import Rejection
from schemas.settings import Settings

ROOT = Path(__file__).parents[2]
TOP_FOLDERS = ("schemas", "streams", "sinks", "deploy", "tests", "benchmarks", "ingest", "payroll",
               "wallboard", "simulator", "docs")  # fmt: skip
# `folder/any/path.ext` in backticks; placeholders (<...>, *, {...}) are not paths.
_PATH = re.compile(r"`((?:" + "|".join(TOP_FOLDERS) + r")/[A-Za-z0-9_./-]*)`")
_MODULE_FILE = re.compile(r"`([A-Za-z0-9_]+\.(?:py|yml|yaml|md|sql))`")  # a bare file name


def _hooks() -> ModuleType:
    """docs/hooks.py, loaded from its file as MkDocs loads it (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(ROOT.glob("deploy/**/*.md"))]


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(tmp_path / "site")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    settings_page = (tmp_path / "site" / "reference" / "settings" / "index.html").read_text()
    assert all(f"CALLFLOOR_{name.upper()}" in settings_page for name in Settings.model_fields)
    assert "<!-- generated" not in settings_page


def test_every_setting_has_its_description_on_the_field() -> None:
    assert [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()] == []


@pytest.mark.parametrize("enum", [Rejection, IngestRejection])
def test_every_rejection_reason_has_a_description(enum: type) -> None:
    descriptions = _hooks().member_descriptions(enum)
    assert [m.name for m in enum if not descriptions.get(m.name)] == []


def test_an_unknown_generated_table_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown generated table"):
        _hooks().render("<!-- generated: nonsense -->")


def test_a_page_lists_settings_by_name_and_gets_them_from_the_fields() -> None:
    table = _hooks().render("<!-- generated: settings wallboard_port alerts_url -->")
    rows = [line for line in table.splitlines() if line.startswith("| `CALLFLOOR_")]
    assert [row.split("`")[1] for row in rows] == ["CALLFLOOR_WALLBOARD_PORT", "CALLFLOOR_ALERTS_URL"]
    assert Settings.model_fields["alerts_url"].description in rows[1]
    with pytest.raises(ValueError, match="no setting named no_such_setting"):
        _hooks().render("<!-- generated: settings no_such_setting -->")


def test_no_page_keeps_a_hand_written_settings_table() -> None:
    """Settings tables come from the fields (``<!-- generated: settings NAME ... -->``): a row
    typed by hand drifts from the default and the description it restates."""
    hand = [f"{path.relative_to(ROOT)}:{n}" for path in doc_files()
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if re.match(r"\|\s*variable\s*\|\s*default\s*\|", line)]  # fmt: skip
    assert hand == []


def test_every_path_the_docs_name_exists() -> None:
    missing = []
    for doc in doc_files():
        for match in _PATH.finditer(doc.read_text(encoding="utf-8")):
            path = match.group(1).rstrip(".")
            if not (ROOT / path).exists():
                missing.append(f"{doc.relative_to(ROOT)}: {path}")
    assert missing == []


def test_every_file_name_the_docs_name_exists_somewhere() -> None:
    """A bare `name.py` (as in a folder's row of the README's table) names a file of the tree."""
    names = {p.name for p in ROOT.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts}
    missing = [
        f"{doc.relative_to(ROOT)}: {m.group(1)}"
        for doc in doc_files()
        for m in _MODULE_FILE.finditer(doc.read_text(encoding="utf-8"))
        if m.group(1) not in names
    ]
    assert missing == []


def test_the_cdr_page_lists_every_rejection_reason() -> None:
    page = _hooks().render((ROOT / "docs" / "integrate" / "cdr.md").read_text(encoding="utf-8"))
    assert [r.value for e in (Rejection, IngestRejection) for r in e if f"| `{r.value}` |" not in page] == []


def test_every_link_of_the_readme_leads_to_a_file() -> None:
    """The README is read on the forge, outside the site's strict build: its links are checked here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", readme)
    assert targets, "the README links into the docs"
    assert [t for t in targets if not (ROOT / t).exists()] == []
