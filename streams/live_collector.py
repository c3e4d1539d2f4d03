"""Targets vs. actuals for Prometheus, computed at scrape time from the live state.

A custom collector (the client_python way) rather than gauges set per event: a
scrape sees exactly the reps this worker owns right now, so after a rebalance a
rep disappears from the worker that lost it at once, and no stale series linger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from schemas.abandon import REGIMES
from schemas.kpis import KPI_COUNTERS, MONTHLY_COUNTERS, Contribution, Counters, business_day, shift_progress
from schemas.settings import Settings
from streams.live_state import ZERO, LiveState

if TYPE_CHECKING:
    from schemas.targets import TargetSet

LABELS = ["rep", "team", "metric", "period"]
REP_FAMILIES = {
    "callfloor_rep_actual": "today's or month-to-date actual",
    "callfloor_rep_target": "rep's target in force",
}
_NO_MONTH: Counters = (0,) * len(MONTHLY_COUNTERS)


class RepFigures(NamedTuple):
    reps: dict[str, tuple[str, Contribution]]  # rep -> (team, today's counters)
    month: Mapping[str, Counters]  # rep -> month before today
    targets: TargetSet | None


def rep_samples(figures: RepFigures) -> Iterator[tuple[str, list[str], float]]:
    """(family, [rep, team, metric, period], value) of every rep series, reps in order."""
    targets = figures.targets
    for rep, (team, counters) in sorted(figures.reps.items()):
        for counter, value in zip(KPI_COUNTERS, counters.as_tuple(), strict=True):
            yield "callfloor_rep_actual", [rep, team, counter.name, "day"], counter.exported(value)
        earlier = figures.month.get(rep, _NO_MONTH)
        for counter, before in zip(MONTHLY_COUNTERS, earlier, strict=True):
            value = before + getattr(counters, counter.name)
            yield "callfloor_rep_actual", [rep, team, counter.name, "month"], counter.exported(value)
        for (period, metric), target in (targets.rep(rep) if targets else {}).items():
            yield "callfloor_rep_target", [rep, team, metric, period], float(target)


def render_rep_series(figures: RepFigures) -> bytes:
    """The rep families in Prometheus' text format, byte for byte what ``generate_latest``
    writes for :meth:`LiveCollector.collect` (a unit test compares them), about ten times
    faster: they are nearly all of a scrape (19 series a rep), and a slow scrape holds up
    the worker's event loop, hence the floor's numbers."""
    lines: dict[str, list[str]] = {name: [] for name in REP_FAMILIES}
    # Few distinct label pairs and values repeat across thousands of series: format each once.
    heads: dict[tuple[str, str, str], str] = {}
    tails: dict[tuple[str, str], str] = {}
    numbers: dict[float, str] = {}
    for name, (rep, team, metric, period), value in rep_samples(figures):
        head = heads.get((name, metric, period))
        if head is None:
            labels = f'metric="{_escape(metric)}",period="{_escape(period)}"'
            head = heads[name, metric, period] = f"{name}{{{labels},"
        tail = tails.get((rep, team))
        if tail is None:
            tail = tails[rep, team] = f'rep="{_escape(rep)}",team="{_escape(team)}"}} '
        number = numbers.get(value)
        if number is None:
            number = numbers[value] = floatToGoString(value)
        lines[name].append(f"{head}{tail}{number}\n")
    out = []
    for name, text in REP_FAMILIES.items():
        out.append(f"# HELP {name} {text}\n# TYPE {name} gauge\n")
        out.extend(lines[name])
    return "".join(out).encode()


def _escape(value: str) -> str:
    """A label value as the text format wants it (backslash, newline, double quote)."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


class LiveCollector(Collector):
    def __init__(
        self,
        settings: Settings,
        state: LiveState,
        exported_partitions: Callable[[], set[int]],
        partition_of: Callable[[str], int],
        targets: Callable[[], TargetSet | None],
        month_before_today: Callable[[], Mapping[str, Counters]],
        campaign_abandons: Callable[[], Mapping[str, tuple[int, int]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        campaign_abandons_24h: Callable[[], Mapping[str, tuple[int, int]]] = dict,
    ) -> None:
        self.settings = settings
        self.state = state
        self.exported_partitions = exported_partitions
        self.partition_of = partition_of
        self.targets = targets
        self.month_before_today = month_before_today
        self.campaign_abandons = campaign_abandons
        self.campaign_abandons_24h = campaign_abandons_24h
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self.rep_figures()
        families = {name: GaugeMetricFamily(name, text, labels=LABELS) for name, text in REP_FAMILIES.items()}
        for name, labels, value in rep_samples(figures):
            families[name].add_metric(labels, value)
        yield from families.values()
        yield from self.collect_without_reps(figures.targets)

    def reps_today(self, today: date, targets: TargetSet | None) -> dict[str, tuple[str, Contribution]]:
        """(rep, (team, today's counters)) this worker reports: the reps of its seeded partitions, and
        reps with a target but no call yet whose partition it holds. /metrics and the snapshots
        for the wallboard both use it, so they always name the same reps."""
        owned = self.exported_partitions()
        reps = {rep: (team, c) for rep, team, c in self.state.day_counters(today, owned)}
        if targets is not None:
            for rep in targets.reps:
                if rep not in reps and self.partition_of(rep) in owned:
                    reps[rep] = (targets.team_of(rep) or "", ZERO)
        return reps

    def rep_figures(self) -> RepFigures:
        """What the rep series are made of, taken on the event loop (the state changes there);
        turning it into series is pure and may run in a thread."""
        today = business_day(self.clock(), self.settings.zone)
        targets = self.targets()
        return RepFigures(self.reps_today(today, targets), self.month_before_today(), targets)

    def collect_without_reps(self, targets: TargetSet | None) -> Iterator[GaugeMetricFamily]:
        """Every family but the rep series (which :func:`render_rep_series` writes faster)."""
        yield from self._team_targets(targets)
        yield from self._shift_families(self.clock())
        yield from self._campaign_families()

    def _team_targets(self, targets: TargetSet | None) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "callfloor_team_target", "team's target (explicit, or the sum of its reps')",
            labels=["team", "metric", "period"],
        )  # fmt: skip
        if targets is not None:
            for team in sorted(targets.teams):
                for (period, metric), value in targets.team(team).items():
                    family.add_metric([team, metric, period], float(Decimal(value)))
        yield family

    def _shift_families(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        s = self.settings
        shift = shift_progress(now, s.zone, s.shift_start, s.shift_end)
        yield GaugeMetricFamily("callfloor_shift_active", "1 during shift hours", value=int(shift.active))
        yield GaugeMetricFamily(
            "callfloor_shift_elapsed_seconds", "seconds of today's shift gone", value=shift.elapsed_seconds
        )
        yield GaugeMetricFamily(
            "callfloor_shift_length_seconds", "length of today's shift", value=shift.length_seconds
        )
        yield GaugeMetricFamily(
            "callfloor_dial_rate_floor_per_hour", "dials per hour below which a rep is flagged",
            value=s.dial_rate_floor_per_hour,
        )  # fmt: skip

    def abandons_by_regime(self) -> dict[str, Mapping[str, tuple[int, int]]]:
        """Each regime's window: campaign -> (abandoned, connects), from ClickHouse."""
        return {"30d": self.campaign_abandons(), "24h": self.campaign_abandons_24h()}

    def _campaign_families(self) -> Iterator[GaugeMetricFamily]:
        """Both regimes' rates for every campaign, and the regime each campaign is judged by
        (the alert rules join on it; schemas.abandon)."""
        windows = self.abandons_by_regime()
        for regime in REGIMES.values():
            rate = GaugeMetricFamily(
                regime.series, f"abandoned / (connects + abandoned), {regime.span} ({regime.authority})",
                labels=["campaign"],
            )  # fmt: skip
            abandoned = GaugeMetricFamily(
                f"callfloor_campaign_abandoned_{regime.name}", f"abandoned calls, {regime.span}",
                labels=["campaign"],
            )  # fmt: skip
            answers = GaugeMetricFamily(
                f"callfloor_campaign_live_answers_{regime.name}", f"connects + abandoned, {regime.span}",
                labels=["campaign"],
            )  # fmt: skip
            for campaign, (n_abandoned, connects) in sorted(windows[regime.name].items()):
                total = n_abandoned + connects
                abandoned.add_metric([campaign], n_abandoned)
                answers.add_metric([campaign], total)
                if total:
                    rate.add_metric([campaign], n_abandoned / total)
            yield rate
            yield abandoned
            yield answers
        regimes = GaugeMetricFamily(
            "callfloor_campaign_abandon_regime", "1 for the abandon regime a campaign is judged by "
            "(CALLFLOOR_ABANDON_REGIME, CALLFLOOR_ABANDON_REGIME_CAMPAIGNS)", labels=["campaign", "regime"],
        )  # fmt: skip
        campaigns = set(self.settings.campaign_regimes).union(*windows.values())
        for campaign in sorted(campaigns):
            regimes.add_metric([campaign, self.settings.abandon_regime_of(campaign)], 1)
        yield regimes
