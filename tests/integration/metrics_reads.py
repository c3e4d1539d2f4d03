"""Reading a worker's /metrics the way Prometheus would."""

from __future__ import annotations

from urllib.error import URLError
from urllib.request import urlopen

from prometheus_client.parser import text_string_to_metric_families


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value}; empty when the worker does not answer."""
    try:
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    except (URLError, ConnectionError, TimeoutError):
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def rep_actuals(port: int, metric: str = "dials", period: str = "day") -> dict[str, float]:
    """rep -> value of ``callfloor_rep_actual`` for one metric and period."""
    found = {}
    for (name, labels), value in scrape(port).items():
        d = dict(labels)
        if name == "callfloor_rep_actual" and d["metric"] == metric and d["period"] == period:
            found[d["rep"]] = value
    return found
