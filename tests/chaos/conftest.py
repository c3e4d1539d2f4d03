"""Chaos scenarios reuse the integration services (one Tansu broker and one ``callfloor
clickhouse`` per session); scenarios that stop, slow down or lock ClickHouse start their
own. Every scenario runs under a hard timeout and stops everything it started.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

from deploy.local.broker import LocalBroker
from schemas.settings import Settings
from tests.chaos.harness import FIGURES, Processes
from tests.support.ports import free_port
from tests.support.processes import ClickHouseProcess
from tests.support.summary import lines_added_to

_scenario = itertools.count()
DEFAULT_TIMEOUT_S = 120


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault-injection scenario (slow: deselect with -m 'not chaos')")
    config.addinivalue_line("markers", "chaos_timeout(seconds): hard time limit of one chaos scenario")


class ScenarioTimeout(Exception):
    pass


@contextmanager
def hard_limit(seconds: float, what: str) -> Iterator[None]:
    """SIGALRM interrupts whatever runs in the main thread once ``seconds`` have passed."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise ScenarioTimeout(f"{what} exceeded its hard limit of {seconds:.0f}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def hard_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Ends a scenario that overruns its ``chaos_timeout`` (fixtures then stop its processes);
    the CHAOS lines it printed go to the terminal summary."""
    marker = request.node.get_closest_marker("chaos_timeout")
    with (
        lines_added_to(request.node, "chaos figures", FIGURES),
        hard_limit(marker.args[0] if marker else DEFAULT_TIMEOUT_S, request.node.name),
    ):
        yield


@pytest.fixture
def procs() -> Iterator[Processes]:
    started = Processes()
    yield started
    started.stop_all()


@pytest.fixture(scope="module")
def module_procs() -> Iterator[Processes]:
    """For a module-scoped run shared by several tests (stopped after the module)."""
    started = Processes()
    yield started
    started.stop_all()


@pytest.fixture(scope="session")
def make_settings(broker: LocalBroker, clickhouse: ClickHouseProcess) -> Callable[..., Settings]:
    """Settings with a topic, group and database of the scenario's own; overrides on top."""

    def make(**overrides: object) -> Settings:
        n = next(_scenario)
        values: dict[str, object] = {
            "kafka_bootstrap": broker.bootstrap,
            "clickhouse_url": clickhouse.url,
            "cdr_topic": f"chaos.cdr{n}",
            "app_id": f"chaos-{n}",
            "clickhouse_database": f"chaos_{n}",
            "partitions": 4,
            "web_port": free_port(),
        }
        return Settings(**(values | overrides))

    return make


@pytest.fixture
def scenario_logs(logs_dir: Path, request: pytest.FixtureRequest) -> Path:  # noqa: F811
    path = logs_dir / request.node.name
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def module_logs(logs_dir: Path, request: pytest.FixtureRequest) -> Path:  # noqa: F811
    path = logs_dir / request.module.__name__.rsplit(".", 1)[-1]
    path.mkdir(exist_ok=True)
    return path
