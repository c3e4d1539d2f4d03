"""Each third-party version is stated once, in deploy/versions.yaml: compose runs exactly those
images, ClickHouse is at or above the release that keeps FINAL in a rewritten distributed
subquery (#78428, 25.3.3.42), and the prose does not state another version."""

from __future__ import annotations

import re

import yaml

from tests.unit.test_deploy_files import ROOT, compose, image_is_pinned

VERSIONS = yaml.safe_load((ROOT / "deploy" / "versions.yaml").read_text())
SERVICES = ("kafka", "clickhouse", "prometheus", "alertmanager", "grafana")


def release(image: str) -> tuple[int, ...]:
    tag = image.rsplit(":", 1)[1]
    return tuple(int(part) for part in re.match(r"v?([\d.]+)", tag)[1].strip(".").split("."))


def test_compose_runs_exactly_the_stated_versions() -> None:
    services = compose()["services"]
    for name in SERVICES:
        assert image_is_pinned(VERSIONS[name]), VERSIONS[name]
        assert services[name]["image"] == VERSIONS[name], f"{name}: compose differs from deploy/versions.yaml"


def test_clickhouse_is_at_or_above_the_fix_of_77996() -> None:
    minimum = tuple(int(p) for p in VERSIONS["clickhouse_minimum"].split("."))
    assert minimum >= (25, 3, 3, 42)
    got = release(VERSIONS["clickhouse"])
    assert got[:2] > minimum[:2] or got >= minimum, VERSIONS["clickhouse"]


def test_the_docs_state_no_other_version() -> None:
    text = "\n".join(p.read_text() for p in (ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))))
    for name in SERVICES:
        stated = set(re.findall(rf"{re.escape(VERSIONS[name].rsplit(':', 1)[0])}:([\w.\-]+)", text))
        assert stated <= {VERSIONS[name].rsplit(":", 1)[1]}, (name, stated)
    assert "24.8.14 or" not in text
