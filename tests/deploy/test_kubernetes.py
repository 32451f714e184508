"""deploy/kubernetes: every manifest valid against Kubernetes' published
schemas (kubernetes-validate bundles them: no network), and every name one
object gives another pointing at something that exists."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from kubernetes_validate import utils as kubernetes_validate

from tests.deploy.topology import (
    ENDPOINTS,
    KUBERNETES,
    Dockerfile,
    kubernetes_object,
    kubernetes_processes,
    kubernetes_resources,
    kustomization,
)

KUBERNETES_VERSION = "1.28.0"
WORKLOADS = {"Deployment", "Job"}
HPA = "HorizontalPodAutoscaler"


def workloads() -> list[dict[str, Any]]:
    return [doc for doc in kubernetes_resources() if doc["kind"] in WORKLOADS]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def title(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def test_the_validator_refuses_an_unknown_field():
    deployment = copy.deepcopy(kubernetes_object("Deployment", "bridge"))
    containers(deployment)[0]["healthcheck"] = {"path": "/health"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, True)


@pytest.mark.parametrize("doc", kubernetes_resources(), ids=title)
def test_each_object_follows_the_kubernetes_schema(doc: dict[str, Any]):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, True)


def test_the_kustomization_applies_every_manifest_but_the_secret_template():
    manifests = {
        path.name
        for path in KUBERNETES.glob("*.yaml")
        if path.name != "kustomization.yaml" and not path.name.endswith(".example.yaml")
    }
    assert set(kustomization()["resources"]) == manifests
    used = {container["image"].split(":")[0] for w in workloads() for container in containers(w)}
    assert {image["name"] for image in kustomization()["images"]} == used


def test_deployments_select_their_own_pods():
    for deployment in (doc for doc in workloads() if doc["kind"] == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_services_select_their_deployment_and_name_its_port():
    for service in (doc for doc in kubernetes_resources() if doc["kind"] == "Service"):
        selected = [
            workload
            for workload in workloads()
            if service["spec"]["selector"].items()
            <= workload["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert [title(w) for w in selected] == [f"Deployment/{service['metadata']['name']}"]
        ports = {port["name"] for c in containers(selected[0]) for port in c["ports"]}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports


@pytest.mark.parametrize("name", ["rasa", "actions", "bridge"])
def test_probes_check_what_the_image_checks_on_its_port(name: str):
    (container,) = containers(kubernetes_object("Deployment", name))
    (port,) = container["ports"]
    dockerfile = Dockerfile.read(name)
    assert port["containerPort"] == dockerfile.exposed_port
    (healthcheck,) = dockerfile.all("HEALTHCHECK")
    probes = [container[key] for key in container if key.endswith("Probe")]
    assert {"readinessProbe", "livenessProbe"} <= set(container)
    for probe in probes:
        assert probe["httpGet"]["port"] == port["name"]
        assert f":{port['containerPort']}{probe['httpGet']['path']}'" in healthcheck


def test_autoscalers_scale_deployments_that_request_cpu():
    autoscalers = [
        doc for doc in kubernetes_resources() if doc["kind"] == "HorizontalPodAutoscaler"
    ]
    assert {doc["spec"]["scaleTargetRef"]["name"] for doc in autoscalers} == {
        "rasa",
        "actions",
        "bridge",
    }
    for autoscaler in autoscalers:
        target = kubernetes_object("Deployment", autoscaler["spec"]["scaleTargetRef"]["name"])
        for container in containers(target):
            assert container["resources"]["requests"]["cpu"]
        assert autoscaler["spec"]["minReplicas"] >= 2


def test_every_workload_runs_unprivileged_with_resource_requests():
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in containers(workload):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])


def test_the_ingress_keeps_a_browser_on_one_rasa_pod_and_websockets_open():
    ingress = kubernetes_object("Ingress", "cloudpick")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    backends = {
        (rule["host"], path["path"]): path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends[("chat.example.com", "/socket.io")]["name"] == "rasa"
    for backend in backends.values():
        service = kubernetes_object("Service", backend["name"])
        assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}


def test_the_bridge_replicas_share_one_attachments_volume():
    claim = kubernetes_object("PersistentVolumeClaim", "bridge-attachments")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    bridge = kubernetes_processes()["bridge"]
    backing = bridge.mounts[bridge.environment["HANDOFF_ATTACHMENTS_DIR"]]
    assert '"claimName": "bridge-attachments"' in backing


def test_secret_references_name_the_template_keys():
    template = kubernetes_object("Secret", "cloudpick-secrets")["stringData"]
    referenced = {
        variable["valueFrom"]["secretKeyRef"]["key"]
        for workload in workloads()
        for container in containers(workload)
        for variable in container.get("env", [])
        if "valueFrom" in variable
    }
    assert referenced == set(template)
    assert set(template.values()) == {"change-me"}


def test_the_configmap_carries_the_projects_production_endpoints():
    if not ENDPOINTS.exists():
        pytest.skip("endpoints.production.yml comes with the production profile (issue 17)")
    copy_in_configmap = kubernetes_object("ConfigMap", "cloudpick-endpoints")["data"]
    assert copy_in_configmap[ENDPOINTS.name] == ENDPOINTS.read_text(encoding="utf-8")
    (container,) = containers(kubernetes_object("Deployment", "rasa"))
    (mount,) = container["volumeMounts"]
    assert Path(mount["mountPath"]) == Path("/app") / ENDPOINTS.name
    assert mount["subPath"] == ENDPOINTS.name
