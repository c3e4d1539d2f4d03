"""deploy/k8s/prometheusrule.yaml, generated from deploy/prometheus/rules.yml (the one source).

The Prometheus Operator loads rules from ``PrometheusRule`` objects, not from files: this wraps
the rule groups of ``rules.yml`` unchanged in one. Regenerate after editing ``rules.yml``:

    .venv/bin/python -m deploy.prometheus_rule

tests/unit/test_deploy_k8s.py fails when the committed file is not what this prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
RULES = DEPLOY / "prometheus" / "rules.yml"
OUTPUT = DEPLOY / "k8s" / "prometheusrule.yaml"
# kube-prometheus-stack's Prometheus selects rules and ServiceMonitors carrying its Helm
# release name as ``release`` (its default ruleSelector / serviceMonitorSelector): set it to
# yours here and in servicemonitor.yaml (tests/unit/test_deploy_k8s.py keeps them equal).
OPERATOR_SELECTOR = {"release": "kube-prometheus-stack"}
HEADER = """\
# GENERATED from deploy/prometheus/rules.yml by `python -m deploy.prometheus_rule`: edit
# rules.yml and regenerate (a unit test fails while this file differs). The label `release`
# is what kube-prometheus-stack's ruleSelector matches: set it to your Helm release's name.
"""


def prometheus_rule(rules_text: str) -> dict[str, Any]:
    """A PrometheusRule holding the groups of a Prometheus rule file, unchanged."""
    groups = yaml.safe_load(rules_text)["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "callfloor",
            "labels": {"app.kubernetes.io/name": "callfloor", **OPERATOR_SELECTOR},
        },
        "spec": {"groups": groups},
    }


def render(rules_text: str) -> str:
    body = yaml.safe_dump(prometheus_rule(rules_text), sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


def main() -> int:
    OUTPUT.write_text(render(RULES.read_text()))
    print(f"wrote {OUTPUT.relative_to(DEPLOY.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
