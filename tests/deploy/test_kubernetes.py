"""The Kubernetes files of deploy/kubernetes and the image of deploy/Dockerfile hold together.

`make k8s` checks each manifest against Kubernetes' own schemas; these tests check what a schema
cannot: every Deployment probes a port it declares and has its Service and disruption budget,
every setting the manifests name is one the bot reads, secrets stay in the Secret and its
template holds placeholders only, and the image pins its base and does not run as root.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.settings import PROJECT_ROOT, load_settings

KUBERNETES = PROJECT_ROOT / "deploy" / "kubernetes"
OVERLAY = KUBERNETES / "overlays" / "example"
SECRET_TEMPLATE = KUBERNETES / "secret.example.yaml"
DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"
TIERS = ("gateway", "rasa", "actions")
AUTOSCALED = ("gateway", "rasa")

#: Names the manifests may use before the settings loader reads them: added by the scale-out work.
SCALE_OUT_NAMES = frozenset({"BOT_RASA_URL", "BOT_ACTION_URL", "BOT_REDIS_URL", "BOT_RABBITMQ_URL"})
#: Settings whose values are secret: only the Secret may hold them.
SECRET_SETTING = re.compile(r"TOKEN|SECRET|PASSWORD|DATABASE_URL|TRACKER_URL|REDIS_URL|RABBITMQ_URL")
PLACEHOLDER = "REPLACE_ME"
#: A run this long of token characters, once the placeholder is taken out, looks like a real credential.
REAL_LOOKING = re.compile(r"[A-Za-z0-9_+/=.-]{16,}")
#: The longest a customer turn waits for Rasa's custom actions (its action timeout), in seconds.
TURN_S = 60


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _kustomization(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))


def _resource_files(folder: Path) -> list[Path]:
    """The files a kustomization lists, following the folders it lists to their own kustomizations."""
    files = []
    for entry in _kustomization(folder).get("resources", []):
        path = (folder / entry).resolve()
        files.extend(_resource_files(path) if path.is_dir() else [path])
    return files


@functools.cache
def _objects() -> list[dict[str, Any]]:
    """Every object of the base (parsed once; no test changes them)."""
    # A listed file that is missing fails test_every_resource_a_kustomization_lists_exists alone.
    return [doc for path in _resource_files(KUBERNETES) if path.is_file() for doc in _documents(path)]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _objects() if doc["kind"] == kind]


def _named(kind: str, name: str) -> dict[str, Any]:
    [found] = [doc for doc in _of_kind(kind) if doc["metadata"]["name"] == name]
    return found


def _deployment(tier: str) -> dict[str, Any]:
    return _named("Deployment", f"support-bot-{tier}")


def _pod(tier: str) -> dict[str, Any]:
    return _deployment(tier)["spec"]["template"]


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod["spec"].get("initContainers", []) + pod["spec"]["containers"]


def _declared_ports(container: dict[str, Any]) -> set[int | str]:
    ports = container.get("ports", [])
    return {p["containerPort"] for p in ports} | {p["name"] for p in ports if "name" in p}


def _selects(selector: dict[str, str], pod: dict[str, Any]) -> bool:
    labels = pod["metadata"]["labels"]
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity (``500m``, ``1``, ``256Mi``, ``2Gi``) as a plain number."""
    units = {"m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match and match[2] in units, f"not a quantity: {value!r}"
    return float(match[1]) * units[match[2]]


def _configmap() -> dict[str, str]:
    [configmap] = _of_kind("ConfigMap")
    return configmap["data"]


def _secret_template() -> dict[str, Any]:
    [secret] = _documents(SECRET_TEMPLATE)
    return secret


def _commented_secret_entries() -> dict[str, str]:
    """The optional keys the template leaves commented out (``# BOT_X: value``), with their values."""
    found = re.findall(r"^\s*#\s*(BOT_[A-Z0-9_]+):\s*(\S.*)$", SECRET_TEMPLATE.read_text(encoding="utf-8"), re.M)
    return dict(found)


def _names_the_bot_reads() -> set[str]:
    """Every ``"BOT_..."`` literal of the settings loader and every ``${BOT_...}`` of Rasa's endpoint files."""
    loader = (PROJECT_ROOT / "bot" / "settings" / "loading.py").read_text(encoding="utf-8")
    names = set(re.findall(r"\"(BOT_[A-Z0-9_]+)\"", loader))
    for name in ("endpoints.yml", "credentials.yml"):
        names |= set(re.findall(r"\$\{(BOT_[A-Z0-9_]+)\}", (PROJECT_ROOT / name).read_text(encoding="utf-8")))
    return names


def _env_names_in_deployments() -> set[str]:
    return {
        entry["name"] for tier in TIERS for container in _containers(_pod(tier)) for entry in container.get("env", [])
    }


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined, comments left out."""
    lines = [line for line in DOCKERFILE.read_text(encoding="utf-8").splitlines() if not line.strip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = [line.strip().split(maxsplit=1) for line in joined.splitlines() if line.strip()]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


# --- the kustomizations ---


@pytest.mark.parametrize("folder", [KUBERNETES, OVERLAY], ids=["base", "example-overlay"])
def test_every_resource_a_kustomization_lists_exists(folder: Path) -> None:
    for entry in _kustomization(folder).get("resources", []):
        path = folder / entry
        assert path.is_file() or (path / "kustomization.yaml").is_file(), f"{folder}: {entry} does not exist"


def test_every_manifest_is_a_listed_resource_or_the_secret_template() -> None:
    # `make k8s` validates every *.yaml but the kustomizations: the same files as these.
    on_disk = {p.resolve() for p in KUBERNETES.rglob("*.y*ml") if not p.name.startswith("kustomization.")}
    assert on_disk == {*_resource_files(KUBERNETES), *_resource_files(OVERLAY), SECRET_TEMPLATE.resolve()}


def test_the_base_is_namespace_agnostic_and_creates_no_secret() -> None:
    assert "namespace" not in _kustomization(KUBERNETES)
    assert all("namespace" not in doc["metadata"] for doc in _objects())
    # An apply must never replace the real Secret with the template's placeholders.
    assert _of_kind("Secret") == [] and "secretGenerator" not in _kustomization(KUBERNETES)


def test_there_is_one_deployment_per_tier() -> None:
    assert sorted(d["metadata"]["name"] for d in _of_kind("Deployment")) == sorted(f"support-bot-{t}" for t in TIERS)


# --- each tier ---


@pytest.mark.parametrize("tier", TIERS)
def test_probes_ask_a_port_the_container_declares(tier: str) -> None:
    for container in _pod(tier)["spec"]["containers"]:
        probes = ["readinessProbe", "livenessProbe"] + (["startupProbe"] if tier == "rasa" else [])
        for probe in probes:
            assert probe in container, f"{tier}/{container['name']} has no {probe}"
            action = container[probe].get("httpGet") or container[probe].get("tcpSocket")
            assert action, f"{tier}/{container['name']} {probe} asks no port"
            assert action["port"] in _declared_ports(container), f"{tier} {probe} asks port {action['port']}"


@pytest.mark.parametrize("tier", TIERS)
def test_every_container_has_requests_and_limits(tier: str) -> None:
    for container in _containers(_pod(tier)):
        resources = container.get("resources", {})
        for resource in ("cpu", "memory"):
            request = resources.get("requests", {}).get(resource)
            limit = resources.get("limits", {}).get(resource)
            assert request and limit, f"{tier}/{container['name']}: {resource} request and limit"
            assert _quantity(request) <= _quantity(limit), f"{tier}/{container['name']}: {resource} above its limit"


@pytest.mark.parametrize("tier", TIERS)
def test_rolling_updates_keep_every_replica_serving(tier: str) -> None:
    spec = _deployment(tier)["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["type"] == "RollingUpdate" and spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert _pod(tier)["spec"]["terminationGracePeriodSeconds"] > TURN_S


@pytest.mark.parametrize("tier", TIERS)
def test_pods_run_as_non_root_on_a_read_only_root(tier: str) -> None:
    spec = _pod(tier)["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    empty_dirs = {volume["name"] for volume in spec.get("volumes", []) if "emptyDir" in volume}
    for container in _containers(_pod(tier)):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
        assert mounts.get("/app/var") in empty_dirs, f"{tier}/{container['name']}: var/ is no emptyDir"


@pytest.mark.parametrize("tier", TIERS)
def test_a_service_reaches_the_tier_on_a_declared_port(tier: str) -> None:
    pod = _pod(tier)
    services = [s for s in _of_kind("Service") if _selects(s["spec"]["selector"], pod)]
    assert [s["metadata"]["name"] for s in services] == [f"support-bot-{tier}"]
    [container] = pod["spec"]["containers"]
    for port in services[0]["spec"]["ports"]:
        assert port.get("targetPort", port["port"]) in _declared_ports(container)
    others = [_pod(other) for other in TIERS if other != tier]
    assert not any(_selects(services[0]["spec"]["selector"], other) for other in others)


@pytest.mark.parametrize("tier", TIERS)
def test_a_disruption_budget_keeps_one_pod_of_the_tier(tier: str) -> None:
    pod = _pod(tier)
    budgets = [b for b in _of_kind("PodDisruptionBudget") if _selects(b["spec"]["selector"]["matchLabels"], pod)]
    assert len(budgets) == 1 and budgets[0]["spec"]["minAvailable"] == 1
    others = [_pod(other) for other in TIERS if other != tier]
    assert not any(_selects(budgets[0]["spec"]["selector"]["matchLabels"], other) for other in others)


@pytest.mark.parametrize("tier", AUTOSCALED)
def test_gateway_and_rasa_scale_on_cpu(tier: str) -> None:
    hpa = _named("HorizontalPodAutoscaler", f"support-bot-{tier}")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"support-bot-{tier}",
    }
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"] == ["cpu"]


@pytest.mark.parametrize("tier", TIERS)
def test_a_port_on_the_command_line_is_the_declared_one(tier: str) -> None:
    for container in _pod(tier)["spec"]["containers"]:
        command = [*container.get("command", []), *container.get("args", [])]
        if "--port" in command:
            assert int(command[command.index("--port") + 1]) in _declared_ports(container)


# --- settings and secrets ---


def test_every_setting_the_manifests_name_is_read_by_the_bot() -> None:
    named = (
        set(_configmap())
        | set(_secret_template()["stringData"])
        | set(_commented_secret_entries())
        | _env_names_in_deployments()
    )
    unknown = named - _names_the_bot_reads() - SCALE_OUT_NAMES
    assert unknown == set(), f"not read by bot/settings/loading.py, endpoints.yml or credentials.yml: {unknown}"


def test_secrets_are_only_in_the_secret() -> None:
    assert [name for name in _configmap() if SECRET_SETTING.search(name)] == []
    for tier in TIERS:
        for container in _containers(_pod(tier)):
            inline = [e["name"] for e in container.get("env", []) if SECRET_SETTING.search(e["name"]) and "value" in e]
            assert inline == [], f"{tier}/{container['name']} sets a secret inline: {inline}"
            refs = {ref for source in container.get("envFrom", []) for ref in source}
            assert refs == {"configMapRef", "secretRef"}, f"{tier}/{container['name']} reads {refs}"


def test_the_secret_template_holds_placeholders_only() -> None:
    secret = _secret_template()
    assert secret["kind"] == "Secret" and "data" not in secret  # base64 would hide what a value is
    entries = {**secret["stringData"], **_commented_secret_entries()}
    assert entries
    for name, value in entries.items():
        assert PLACEHOLDER in value, f"{name} is no placeholder"
        assert not REAL_LOOKING.search(value.replace(PLACEHOLDER, "")), f"{name} looks like a real value: {value!r}"


def test_the_manifests_make_a_production_configuration(tmp_path: Path) -> None:
    # What a pod's environment becomes once the template is filled: the loader accepts it as is.
    env = {**_configmap(), **_secret_template()["stringData"], "BOT_REPLICA_ID": "support-bot-gateway-0"}
    settings = load_settings({**env, "BOT_VAR_DIR": str(tmp_path)})
    assert settings.is_production and settings.generated_tokens == ()
    # A stopping pod may finish the turn it holds: the gateway waits BOT_RASA_TIMEOUT for it.
    assert all(_pod(tier)["spec"]["terminationGracePeriodSeconds"] > settings.dialogue.timeout_s for tier in TIERS)
    listening = {
        "gateway": settings.gateway.port,
        "rasa": settings.dialogue.rasa_port,
        "actions": settings.dialogue.action_port,
    }
    for tier, port in listening.items():
        [container] = _pod(tier)["spec"]["containers"]
        assert port in _declared_ports(container), f"{tier} listens on {port}, the pod declares {container['ports']}"


@pytest.mark.parametrize(("setting", "tier"), [("BOT_RASA_URL", "rasa"), ("BOT_ACTION_URL", "actions")])
def test_the_urls_between_tiers_name_their_services(setting: str, tier: str) -> None:
    url = urlsplit(_configmap()[setting])
    service = _named("Service", f"support-bot-{tier}")
    assert url.hostname == service["metadata"]["name"]
    assert url.port in {port["port"] for port in service["spec"]["ports"]}


# --- the example overlay ---


def test_the_example_overlay_changes_only_what_the_base_has() -> None:
    overlay = _kustomization(OVERLAY)
    images = {c["image"] for tier in TIERS for c in _containers(_pod(tier))}
    assert {image["name"] for image in overlay["images"]} <= images
    counts = {entry["name"]: entry["count"] for entry in overlay["replicas"]}
    assert set(counts) == {f"support-bot-{tier}" for tier in TIERS} and min(counts.values()) >= 2
    for patch in overlay.get("patches", []):
        target = patch["target"]
        hpa = _named(target["kind"], target["name"])
        bounds = {op["path"]: op["value"] for op in yaml.safe_load(patch["patch"])}
        low = bounds.get("/spec/minReplicas", hpa["spec"]["minReplicas"])
        high = bounds.get("/spec/maxReplicas", hpa["spec"]["maxReplicas"])
        assert 2 <= low <= counts[target["name"]] <= high, f"{target['name']}: {low} <= count <= {high}"


# --- the image ---


def test_the_image_pins_its_base() -> None:
    stages: set[str] = set()
    for instruction, arguments in _dockerfile_instructions():
        if instruction != "FROM":
            continue
        words = [word for word in arguments.split() if not word.startswith("--")]
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2].lower())
        if image.lower() in stages:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert "@sha256:" in image or re.match(r"\d+\.\d+\.\d+", tag), f"base image not pinned: {image}"


def test_the_image_does_not_run_as_root() -> None:
    users = [arguments.split(":")[0] for instruction, arguments in _dockerfile_instructions() if instruction == "USER"]
    assert users and users[-1] not in {"root", "0"}
    # The pods' runAsUser is the image's own user.
    assert all(_pod(tier)["spec"]["securityContext"]["runAsUser"] == int(users[-1]) for tier in TIERS)


def test_the_image_trains_at_build_time() -> None:
    runs = " ".join(arguments for instruction, arguments in _dockerfile_instructions() if instruction == "RUN")
    assert "python -m bot train" in runs


def test_the_image_serves_as_make_run_does() -> None:
    """After training, the image's environment holds what bot.supervisor.child_env gives each server."""
    from bot.supervisor import SERVING_THREADS

    instructions = _dockerfile_instructions()
    trained = max(i for i, (kind, arguments) in enumerate(instructions) if kind == "RUN" and "bot train" in arguments)
    env: dict[str, str] = {}
    for kind, arguments in instructions[trained:]:
        if kind == "ENV":
            env.update(pair.split("=", 1) for pair in arguments.split())
    assert {name: env.get(name) for name in SERVING_THREADS} == SERVING_THREADS
    assert env.get("PYTHONPATH") == "/app/runtime/without_jax"
