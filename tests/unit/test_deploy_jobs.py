"""The one-shot steps of a deployment (``topics create``, ``migrate``): present in compose and
in the kustomization, before the workers, and re-appliable on Kubernetes release after release
(a Job's pod template is immutable, so each release's Job is named after its image tag)."""

from __future__ import annotations

import yaml

from tests.unit.test_deploy_files import K8S_DIR, compose, k8s_documents

ONE_SHOT = {"topics": ["topics", "create"], "migrate": ["migrate"]}


def test_compose_runs_topics_and_migrate_once_before_the_workers() -> None:
    services = compose()["services"]
    for name, command in ONE_SHOT.items():
        assert services[name]["command"] == command and services[name]["restart"] == "no"
        assert services["worker"]["depends_on"][name]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"


def test_k8s_jobs_are_named_after_the_release_so_a_new_one_can_be_applied() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    release = image["newTag"].replace(".", "-")
    applied = [doc for path, doc in k8s_documents() if path.name in kustomization["resources"]]
    jobs = {doc["spec"]["template"]["spec"]["containers"][0]["args"][0]: doc
            for doc in applied if doc["kind"] == "Job"}  # fmt: skip
    assert set(jobs) == set(ONE_SHOT)
    for step, job in jobs.items():
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ONE_SHOT[step]
        assert job["metadata"]["name"] == f"callfloor-{step}-{release}", "rename the Job with each release"
        assert container["image"].split(":")[0] == image["name"]
        assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_every_k8s_pod_meets_pod_security_restricted() -> None:
    """What the "restricted" Pod Security Standard requires of every pod and container."""
    kinds = ("Deployment", "Job")
    pods = [doc["spec"]["template"]["spec"] for _, doc in k8s_documents() if doc["kind"] in kinds]
    assert len(pods) >= 3
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            assert container["securityContext"] == {"allowPrivilegeEscalation": False,
                                                    "capabilities": {"drop": ["ALL"]}}  # fmt: skip


def test_the_worker_budget_never_blocks_a_drain_of_unready_pods() -> None:
    (pdb,) = [doc for _, doc in k8s_documents() if doc["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
