"""How ``make test`` shares tests between its two pytest-xdist workers.

A unit of work is a test module, so module-scoped fixtures start once; except that all
chaos scenarios are one unit (one worker runs them one after another: no two fault
injections ever share the machine), and the benchmark smoke runs, which share nothing
and take long each, are one unit per test. The units go out in collection order, where
the xdist workers list the chaos scenarios first (tests/conftest.py): the longest unit
starts at once and the rest packs around it.

pytest-xdist's own ``loadgroup`` cannot say this with pytest 9: it renames tests through
``Item._nodeid``, which pytest 9 no longer reads, so every group falls apart.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

CHAOS = "tests/chaos/"
BY_TEST = ("tests/integration/test_benchmark_smoke.py",)


def unit_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    if module.startswith(CHAOS):
        return CHAOS
    return nodeid if module in BY_TEST else module


class SuiteScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)
