"""The whole kustomization as ``kubectl apply -k deploy/k8s`` would send it (kubectl is not
here: a small renderer of what this kustomization uses, its resources, namespace and images),
every object checked strictly against Kubernetes' schemas; the Prometheus Operator's objects
checked against what the operator and the rules need."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from deploy.prometheus_rule import OPERATOR_SELECTOR, OUTPUT, RULES, render
from tests.unit.test_deploy_files import K8S_DIR, ROOT

CLUSTER_SCOPED = {"Namespace"}
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}  # CRDs: no schema in kubernetes-validate
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "callfloor.json"


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())


def rendered() -> list[dict[str, Any]]:
    """Every object of the kustomization, with its namespace and images set."""
    spec = kustomization()
    images = {i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in spec.get("images", [])}
    out = []
    for resource in spec["resources"]:
        for doc in yaml.safe_load_all((K8S_DIR / resource).read_text()):
            if not doc:
                continue
            doc = copy.deepcopy(doc)
            if doc["kind"] not in CLUSTER_SCOPED and "namespace" in spec:
                doc["metadata"]["namespace"] = spec["namespace"]
            _set_images(doc, images)
            out.append(doc)
    return out


def _set_images(node: Any, images: dict[str, str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("image"), str):
            name = node["image"].split("@")[0].rsplit(":", 1)[0]
            node["image"] = images.get(name, node["image"])
        for value in node.values():
            _set_images(value, images)
    elif isinstance(node, list):
        for value in node:
            _set_images(value, images)


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in rendered() if doc["kind"] == kind]


def test_every_rendered_object_passes_the_strict_schema_check() -> None:
    objects = rendered()
    kinds = sorted(doc["kind"] for doc in objects)
    assert {"Deployment", "Job", "Service", "PodDisruptionBudget", "ConfigMap", "Secret", "Namespace",
            "ServiceMonitor", "PrometheusRule"} <= set(kinds), kinds  # fmt: skip
    for doc in objects:
        if doc["kind"] in OPERATOR_KINDS:
            continue
        kubernetes_validate.validate(doc, "1.30", strict=True)
    namespaces = {doc["metadata"].get("namespace") for doc in objects if doc["kind"] not in CLUSTER_SCOPED}
    assert namespaces == {kustomization()["namespace"]}


def test_images_are_the_release_image_and_the_jobs_are_named_after_it() -> None:
    (image,) = kustomization()["images"]
    wanted = f"{image['newName']}:{image['newTag']}"
    images = {c["image"] for doc in by_kind("Deployment") + by_kind("Job")
              for c in doc["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert images == {wanted}
    assert {job["metadata"]["name"] for job in by_kind("Job")} == {
        f"callfloor-{step}-{image['newTag'].replace('.', '-')}" for step in ("topics", "migrate")
    }


def test_the_prometheus_rule_is_generated_from_rules_yml() -> None:
    assert OUTPUT.read_text() == render(RULES.read_text()), "run: .venv/bin/python -m deploy.prometheus_rule"
    (rule,) = by_kind("PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_the_prometheus_rule_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make system-deps` installs Debian's prometheus"
    (rule,) = by_kind("PrometheusRule")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = subprocess.run([promtool, "check", "rules", str(tmp_path / "rules.yml")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_operator_selects_the_monitor_and_the_rules_and_the_job_is_callfloor() -> None:
    (monitor,) = by_kind("ServiceMonitor")
    (rule,) = by_kind("PrometheusRule")
    for doc in (monitor, rule):
        assert OPERATOR_SELECTOR.items() <= doc["metadata"]["labels"].items(), doc["metadata"]
    services = [s for s in by_kind("Service")
                if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in services] == ["callfloor-worker"]
    job = services[0]["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    port_names = {p["name"] for p in services[0]["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    rules_jobs = set(re.findall(r'job="([^"]+)"', RULES.read_text()))
    dashboard_jobs = set(re.findall(r'job=\\"([^"\\]+)\\"', DASHBOARD.read_text()))
    assert rules_jobs == dashboard_jobs == {job} == {"callfloor"}


def test_the_wallboard_has_a_deployment_and_a_service() -> None:
    (deployment,) = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "callfloor-wallboard"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["wallboard"]
    env = {e["name"]: e["value"] for e in container["env"]}
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert env["CALLFLOOR_WALLBOARD_PORT"] == str(port) and env["CALLFLOOR_WALLBOARD_HOST"] == "0.0.0.0"
    (service,) = [s for s in by_kind("Service") if s["metadata"]["name"] == "callfloor-wallboard"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
