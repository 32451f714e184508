"""The production topology as deploy/ describes it, read the way Docker,
Compose and Kubernetes read it, so the tests can hold each description to
the configuration contract (docs/deployment.md) and to each other."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import PROJECT

DEPLOY = PROJECT / "deploy"
DOCKERFILES = DEPLOY / "docker"
COMPOSE_FILE = DEPLOY / "compose" / "compose.yaml"
COMPOSE_ENV = DEPLOY / "compose" / "example.env"
KUBERNETES = DEPLOY / "kubernetes"
ENDPOINTS = PROJECT / "endpoints.production.yml"

# The contract (issue 17): what each process runs and reads in production.
COMMANDS = {
    "rasa": [
        *("python", "-m", "scripts.rasa_cli", "run", "--enable-api", "--model", "models"),
        *("--endpoints", "endpoints.production.yml", "--credentials", "credentials.yml"),
        *("--port", "5005"),
    ],
    "actions": ["python", "-m", "actions.server", "--host", "0.0.0.0", "--port", "5055"],
    "bridge": ["python", "-m", "handoff", "serve", "--port", "5056"],
    "migrate": ["python", "-m", "handoff", "migrate"],
}
IMAGES = {"rasa": "rasa", "actions": "actions", "bridge": "bridge", "migrate": "bridge"}
ENDPOINT_VARIABLES = {
    *("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "TRACKER_DB"),
    *("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_LOCK_DB"),
    *("RABBITMQ_HOST", "RABBITMQ_PORT", "RABBITMQ_USER", "RABBITMQ_PASSWORD"),
    *("RABBITMQ_QUEUE", "RABBITMQ_EXCHANGE", "ACTION_SERVER_URL", "ACTION_SERVER_TOKEN"),
}
ENVIRONMENT = {
    "rasa": ENDPOINT_VARIABLES
    | {"RASA_JWT_SECRET", "WEB_SESSION_SECRET", "HANDOFF_URL", "HANDOFF_API_TOKEN"}
    | {"CHANNELS_REDIS_URL", "SANIC_WORKERS"},
    "actions": {"ACTION_SERVER_TOKEN", "HANDOFF_URL", "HANDOFF_API_TOKEN", "HANDOFF_OUTBOX_PATH"},
    "bridge": {
        *("HANDOFF_DATABASE_URL", "HANDOFF_RASA_URL", "HANDOFF_RASA_TOKEN", "HANDOFF_API_TOKEN"),
        *("HANDOFF_REDIS_URL", "HANDOFF_RABBITMQ_URL", "HANDOFF_RABBITMQ_QUEUE"),
        # Its default is not the exchange Rasa publishes to.
        "HANDOFF_RABBITMQ_EXCHANGE",
        "HANDOFF_ATTACHMENTS_DIR",
    },
    "migrate": {"HANDOFF_DATABASE_URL"},
}


def endpoint_references(text: str) -> set[str]:
    """The variables an endpoints file makes Rasa expand (`${NAME}` in its
    values; comments may mention others)."""

    def scalars(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [text for value in node.values() for text in scalars(value)]
        if isinstance(node, list):
            return [text for value in node for text in scalars(value)]
        return [str(node)]

    return {
        name
        for value in scalars(yaml.safe_load(text))
        for name in re.findall(r"\$\{(\w+)\}", value)
    }


# --- Dockerfiles ------------------------------------------------------------


@dataclass
class Dockerfile:
    path: Path
    instructions: list[tuple[str, str]]

    @classmethod
    def read(cls, image: str) -> Dockerfile:
        path = DOCKERFILES / f"{image}.Dockerfile"
        logical = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
        instructions = []
        for line in logical.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                keyword, _, rest = line.strip().partition(" ")
                instructions.append((keyword.upper(), rest.strip()))
        return cls(path, instructions)

    def all(self, keyword: str) -> list[str]:
        return [rest for name, rest in self.instructions if name == keyword]

    def copy_sources(self) -> list[str]:
        sources = []
        for rest in self.all("COPY"):
            words = [word for word in shlex.split(rest) if not word.startswith("--")]
            sources.extend(words[:-1])
        return sources

    @property
    def command(self) -> list[str]:
        (command,) = self.all("CMD")
        return json.loads(command)

    @property
    def exposed_port(self) -> int:
        (port,) = self.all("EXPOSE")
        return int(port)

    @property
    def healthcheck_port(self) -> int:
        (check,) = self.all("HEALTHCHECK")
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", check)
        assert match, check
        return int(match.group(1))


# --- the running processes, as either description gives them ---------------


@dataclass
class Process:
    """One process of a topology: its image, command and environment (the
    values resolved the way its orchestrator resolves them)."""

    name: str
    image: str
    command: list[str]
    environment: dict[str, str]
    container_port: int | None
    mounts: dict[str, str] = field(default_factory=dict)  # path -> what backs it


def service_address(url: str) -> tuple[str, int]:
    match = re.match(r"^\w+://(?:[^@/]*@)?([^:/]+):(\d+)", url)
    assert match, url
    return match.group(1), int(match.group(2))


# --- Compose ----------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def compose_settings() -> dict[str, str]:
    """The example env file's settings, as Compose reads a `.env`."""
    settings = {}
    for line in COMPOSE_ENV.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name.strip()] = value.strip()
    return settings


def interpolate(text: str, settings: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}`; a
    required variable that is missing fails as `docker compose` would."""

    def value(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if settings.get(name):
            return settings[name]
        if operator in (":-", "-"):
            return argument
        raise KeyError(f"{name} is required: {argument or 'no default'}")

    return _INTERPOLATION.sub(value, text.replace("$$", "\0")).replace("\0", "$")


def compose_document(settings: dict[str, str] | None = None) -> dict[str, Any]:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    return yaml.safe_load(interpolate(text, compose_settings() if settings is None else settings))


def compose_processes() -> dict[str, Process]:
    services = compose_document()["services"]
    processes = {}
    for name in COMMANDS:
        service = services[name]
        image = Path(service["build"]["dockerfile"]).name.removesuffix(".Dockerfile")
        dockerfile = Dockerfile.read(image)
        ports = [str(port).rsplit(":", 1)[-1] for port in service.get("ports", [])]
        volumes = dict(reversed(volume.split(":")[:2]) for volume in service.get("volumes", []))
        processes[name] = Process(
            name=name,
            image=image,
            command=service.get("command") or dockerfile.command,
            environment={key: str(value) for key, value in service["environment"].items()},
            container_port=int(ports[0]) if ports else None,
            mounts=volumes,
        )
    return processes


# --- Kubernetes -------------------------------------------------------------


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))


def kubernetes_resources() -> list[dict[str, Any]]:
    """What `kubectl apply -k` applies, and the Secret template beside it."""
    documents = []
    for name in [*kustomization()["resources"], "secret.example.yaml"]:
        text = (KUBERNETES / name).read_text(encoding="utf-8")
        documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return documents


def kubernetes_object(kind: str, name: str) -> dict[str, Any]:
    (found,) = (
        doc
        for doc in kubernetes_resources()
        if doc["kind"] == kind and doc["metadata"]["name"] == name
    )
    return found


def _container_environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's variables as the kubelet sets them: envFrom first,
    then `env` in order, each `$(NAME)` expanded from those before it. A
    reference to a later or unknown variable stays as it is written."""
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            environment |= kubernetes_object("ConfigMap", source["configMapRef"]["name"])["data"]
        else:
            environment |= kubernetes_object("Secret", source["secretRef"]["name"])["stringData"]
    for variable in container.get("env", []):
        if "value" in variable:
            value = re.sub(
                r"\$\((\w+)\)",
                lambda match: environment.get(match.group(1), match.group(0)),
                variable["value"],
            )
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            value = kubernetes_object("Secret", reference["name"])["stringData"][reference["key"]]
        environment[variable["name"]] = value
    return environment


def kubernetes_processes() -> dict[str, Process]:
    workloads = {
        "rasa": ("Deployment", "rasa"),
        "actions": ("Deployment", "actions"),
        "bridge": ("Deployment", "bridge"),
        "migrate": ("Job", "bridge-migrate"),
    }
    processes = {}
    for name, (kind, workload_name) in workloads.items():
        pod = kubernetes_object(kind, workload_name)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        image = container["image"].split(":")[0].removeprefix("cloudpick/")
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        processes[name] = Process(
            name=name,
            image=image,
            command=container.get("command")
            or container.get("args")
            or Dockerfile.read(image).command,
            environment=_container_environment(container),
            container_port=(container.get("ports") or [{}])[0].get("containerPort"),
            mounts={
                mount["mountPath"]: json.dumps(volumes[mount["name"]], sort_keys=True)
                for mount in container.get("volumeMounts", [])
            },
        )
    return processes
