"""Reading a worker's /metrics the way Prometheus would."""

from __future__ import annotations

from collections import defaultdict
from urllib.error import URLError
from urllib.request import urlopen

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, tuple[tuple[str, str], ...]]  # (sample name, sorted labels)


def metrics_text(port: int, timeout_s: float = 10.0) -> str | None:
    """The text of ``/metrics`` on a local web port, or None while nothing answers."""
    try:
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as response:
            return response.read().decode()
    except (URLError, ConnectionError, TimeoutError):
        return None


def samples(port: int) -> dict[Sample, float]:
    """{(sample name, sorted labels): value}; empty when the worker does not answer."""
    text = metrics_text(port)
    if text is None:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def rep_actuals(port: int, metric: str = "dials", period: str = "day") -> dict[str, float]:
    """rep -> value of ``callfloor_rep_actual`` for one metric and period."""
    found = {}
    for (name, labels), value in samples(port).items():
        d = dict(labels)
        if name == "callfloor_rep_actual" and d["metric"] == metric and d["period"] == period:
            found[d["rep"]] = value
    return found


def rep_day_actuals(port: int) -> dict[str, dict[str, float]] | None:
    """rep -> {metric: today's value}, or None when the worker does not answer."""
    text = metrics_text(port, timeout_s=5.0)
    if text is None:
        return None
    reps: dict[str, dict[str, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        if family.name != "callfloor_rep_actual":
            continue
        for sample in family.samples:
            if sample.labels.get("period") == "day":
                reps[sample.labels["rep"]][sample.labels["metric"]] = sample.value
    return dict(reps)


def lag_partitions(port: int) -> set[int]:
    """Partitions of the CDR topic a worker reports lag for (held and measured)."""
    return {
        int(dict(labels)["partition"])
        for (name, labels), _ in samples(port).items()
        if name == "callfloor_consumer_lag"
    }
