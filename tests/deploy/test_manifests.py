"""Every workload of every build is deployable as the platform expects: probes, resources, a restrictive
security context, graceful shutdown, config only its settings read, secrets only by reference."""

from __future__ import annotations

import re

import pytest

from tests.deploy.conftest import named, pod_spec, workloads

BUILDS = ("base", "overlays/dev", "overlays/prod")
SECRET_LIKE = re.compile(r"(PASSWORD|SECRET|TOKEN|DATABASE_URL|PRIVATE_KEY|API_KEY)$")
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def all_workloads(rendered):
    return [(build, w) for build in BUILDS for w in workloads(rendered[build])]


def containers(workload):
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def ids(pairs):
    return [f"{build}:{w['kind']}/{w['metadata']['name']}" for build, w in pairs]


@pytest.fixture(scope="module")
def pairs(rendered):
    return all_workloads(rendered)


def test_every_build_has_workloads(rendered):
    for build in BUILDS:
        assert workloads(rendered[build]), build


def test_every_deployment_has_http_startup_liveness_and_readiness_probes(rendered):
    for build in BUILDS:
        for deployment in named(rendered[build], "Deployment").values():
            for container in pod_spec(deployment)["containers"]:
                where = f"{build}: {deployment['metadata']['name']}"
                assert container["startupProbe"]["httpGet"]["path"] == "/healthz", where
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where


def test_every_deployment_drains_before_sigterm_and_has_time_to_finish(rendered):
    for build in BUILDS:
        for deployment in named(rendered[build], "Deployment").values():
            spec = pod_spec(deployment)
            where = f"{build}: {deployment['metadata']['name']}"
            assert spec["terminationGracePeriodSeconds"] >= 30, where
            for container in spec["containers"]:
                assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep", where


def test_every_container_has_cpu_and_memory_requests_and_a_memory_limit(pairs):
    for build, workload in pairs:
        for container in containers(workload):
            resources = container["resources"]
            where = f"{build}: {workload['metadata']['name']}"
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert "memory" in resources["limits"], where


def test_every_pod_runs_as_non_root_with_the_runtime_default_seccomp_profile(pairs):
    for build, workload in pairs:
        spec = pod_spec(workload)
        where = f"{build}: {workload['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["enableServiceLinks"] is False, where


def test_every_container_drops_all_capabilities_and_has_a_read_only_root_with_a_writable_tmp(pairs):
    for build, workload in pairs:
        spec = pod_spec(workload)
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in containers(workload):
            where = f"{build}: {workload['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context.get("privileged", False) is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in empty_dirs, where


def test_no_secret_value_is_written_into_a_manifest(rendered):
    for build in BUILDS:
        objects = rendered[build]
        assert not [o for o in objects if o["kind"] == "Secret"], f"{build}: Secrets come from the platform"
        for workload in workloads(objects):
            for container in containers(workload):
                for env in container.get("env", []):
                    if SECRET_LIKE.search(env["name"]):
                        assert "secretKeyRef" in env.get("valueFrom", {}), (
                            f"{build}: {env['name']} must come from a Secret"
                        )
                    assert not CREDENTIALS_IN_URL.search(env.get("value", "")), f"{build}: {env['name']}"
        for config in named(objects, "ConfigMap").values():
            for key, value in config.get("data", {}).items():
                assert not SECRET_LIKE.search(key), f"{build}: {key} belongs in a Secret"
                assert not CREDENTIALS_IN_URL.search(value), f"{build}: {key} holds credentials"


def test_each_service_reads_its_database_url_from_its_own_db_secret_and_its_db_init_job_from_the_migration_one(
    deploy, rendered
):
    # the pods connect as the runtime role (no DDL), the db-init Job as the migration role (scripts/provision_db.py)
    for build in BUILDS:
        for workload in workloads(rendered[build]):
            name = workload["metadata"]["labels"]["app.kubernetes.io/name"]
            secret = f"{name}-db-migrate" if workload["kind"] == "Job" else f"{name}-db"
            component = deploy.components()[name]
            for container in containers(workload):
                refs = {
                    env["name"]: env["valueFrom"]["secretKeyRef"]
                    for env in container.get("env", [])
                    if "secretKeyRef" in env.get("valueFrom", {})
                }
                url = refs.get(f"{component.prefix}DATABASE_URL")
                if url is not None:
                    assert (url["name"], url["key"]) == (secret, "url"), f"{build}: {workload['metadata']['name']}"


def env_names(container, config_maps):
    names = {env["name"] for env in container.get("env", [])}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "environment only from config maps (secrets by single keys)"
        names |= set(config_maps[source["configMapRef"]["name"]].get("data", {}))
    return names


def test_every_environment_variable_set_is_a_settings_field_of_that_component(deploy, rendered):
    for build in BUILDS:
        config_maps = named(rendered[build], "ConfigMap")
        for workload in workloads(rendered[build]):
            name = workload["metadata"]["labels"]["app.kubernetes.io/name"]
            allowed = deploy.components()[name].env_names
            for container in containers(workload):
                unknown = env_names(container, config_maps) - allowed
                assert unknown == set(), f"{build}: {name} sets {sorted(unknown)}, which its settings never read"


def test_every_service_listens_on_all_interfaces_on_the_port_its_probes_use(deploy, rendered):
    for build in BUILDS:
        config_maps = named(rendered[build], "ConfigMap")
        for deployment in named(rendered[build], "Deployment").values():
            name = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
            prefix = deploy.components()[name].prefix
            container = pod_spec(deployment)["containers"][0]
            data = {}
            for source in container.get("envFrom", []):
                data |= config_maps[source["configMapRef"]["name"]]["data"]
            assert data[f"{prefix}HTTP_HOST"] == "0.0.0.0"
            port = next(p for p in container["ports"] if p["name"] == "http")
            assert int(data[f"{prefix}HTTP_PORT"]) == port["containerPort"]


def test_production_has_no_stand_in(deploy, rendered):
    standins = {c.name for c in deploy.components().values() if c.standin}
    for obj in rendered["overlays/prod"]:
        labels = obj["metadata"].get("labels", {})
        assert obj["metadata"]["name"] not in standins, obj["metadata"]["name"]
        assert labels.get("app.kubernetes.io/name") not in standins
        assert labels.get("app.kubernetes.io/component") != "standin"
    for workload in workloads(rendered["overlays/prod"]):
        for container in containers(workload):
            assert "standins" not in container["image"]
            assert not any("standins" in part for part in container.get("command", []))
    config = " ".join(str(c.get("data")) for c in named(rendered["overlays/prod"], "ConfigMap").values())
    for name in standins:
        assert f"//{name}" not in config and f"={name}" not in config


def test_development_runs_every_stand_in(deploy, rendered):
    deployments = named(rendered["overlays/dev"], "Deployment")
    assert {c.name for c in deploy.components().values() if c.standin} <= set(deployments)


def test_production_runs_the_api_and_the_workers_of_every_service_apart(deploy, rendered):
    deployments = named(rendered["overlays/prod"], "Deployment")
    config_maps = named(rendered["overlays/prod"], "ConfigMap")
    for component in deploy.services():
        api = pod_spec(deployments[component.name])["containers"][0]
        worker = pod_spec(deployments[f"{component.name}-worker"])["containers"][0]
        api_config = config_maps[api["envFrom"][0]["configMapRef"]["name"]]["data"]
        assert api_config[f"{component.prefix}PROCESS_ROLES"] == '["api"]'
        worker_roles = {e["name"]: e.get("value") for e in worker["env"]}[f"{component.prefix}PROCESS_ROLES"]
        assert set(__import__("json").loads(worker_roles)) == {"consumers", "relay"}


def test_every_reference_between_objects_resolves(rendered):
    for build in BUILDS:
        objects = rendered[build]
        deployments = named(objects, "Deployment")
        services = named(objects, "Service")
        pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]
        for service in services.values():
            selector = service["spec"]["selector"]
            assert any(selector.items() <= labels.items() for labels in pod_labels), (
                f"{build}: {service['metadata']['name']}"
            )
        for hpa in named(objects, "HorizontalPodAutoscaler").values():
            assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        for scaled in named(objects, "ScaledObject").values():
            assert scaled["spec"]["scaleTargetRef"]["name"] in deployments
        for pdb in named(objects, "PodDisruptionBudget").values():
            selector = pdb["spec"]["selector"]["matchLabels"]
            assert any(selector.items() <= labels.items() for labels in pod_labels)
        for route in named(objects, "HTTPRoute").values():
            for rule in route["spec"]["rules"]:
                for backend in rule["backendRefs"]:
                    assert backend["name"] in services
                    ports = {p["port"] for p in services[backend["name"]]["spec"]["ports"]}
                    assert backend["port"] in ports


def test_http_side_and_workers_never_share_an_autoscaler(rendered):
    for build in BUILDS:
        targets = [
            h["spec"]["scaleTargetRef"]["name"] for h in named(rendered[build], "HorizontalPodAutoscaler").values()
        ]
        targets += [s["spec"]["scaleTargetRef"]["name"] for s in named(rendered[build], "ScaledObject").values()]
        assert len(targets) == len(set(targets)), build


def test_gateway_routes_are_the_route_table_without_local_only_routes(deploy, rendered):
    expected = {(r.prefix.rstrip("/"), r.upstream) for r in deploy.stack().ROUTES if not r.local_only}
    for build in BUILDS:
        declared = {
            (match["path"]["value"], backend["name"])
            for route in named(rendered[build], "HTTPRoute").values()
            for rule in route["spec"]["rules"]
            for match in rule["matches"]
            for backend in rule["backendRefs"]
        }
        assert declared == expected, build
        # the API, and the reference frontend's pages
        assert all(p.startswith("/api/") or (p, b) == ("/kundencenter", "frontend") for p, b in declared)


def test_the_database_init_job_constructs_the_same_service_it_initialises(deploy, rendered):
    for job in named(rendered["base"], "Job").values():
        name = job["metadata"]["labels"]["app.kubernetes.io/name"]
        container = pod_spec(job)["containers"][0]
        module = deploy.components()[name].module
        assert container["image"].endswith(f"/{name}")
        assert container["command"] == ["python", "-m", "kc_runtime.schema", "create", module]


def test_production_service_pods_never_change_the_schema_and_the_init_job_does(deploy, rendered):
    objects = rendered["overlays/prod"]
    config_maps = named(objects, "ConfigMap")
    for workload in workloads(objects):
        name = workload["metadata"]["labels"]["app.kubernetes.io/name"]
        if deploy.components()[name].frontend:
            continue  # no database
        prefix = deploy.components()[name].prefix
        (container,) = pod_spec(workload)["containers"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            env = {**config_maps[source["configMapRef"]["name"]]["data"], **env}
        if workload["kind"] == "Job":  # kc_runtime.schema create turns it on for itself
            assert container["command"][2:4] == ["kc_runtime.schema", "create"]
        else:
            assert env.get(f"{prefix}CREATE_SCHEMA") == "false", workload["metadata"]["name"]


def test_production_pods_authenticate_to_kafka_as_their_kafka_user_over_tls(deploy, rendered):
    objects = rendered["overlays/prod"]
    users = {u["metadata"]["name"]: u for u in named(objects, "KafkaUser").values()}
    for workload in workloads(objects):
        name = workload["metadata"]["labels"]["app.kubernetes.io/name"]
        if deploy.components()[name].frontend:
            assert not [e for e in pod_spec(workload)["containers"][0]["env"] if "KAFKA" in e["name"]]
            continue  # no Kafka
        prefix = deploy.components()[name].prefix
        (container,) = pod_spec(workload)["containers"]
        env = {e["name"]: e for e in container["env"]}
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        assert env[f"{prefix}KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL", where
        assert env[f"{prefix}KAFKA_SASL_MECHANISM"]["value"].lower() == users[name]["spec"]["authentication"]["type"]
        assert env[f"{prefix}KAFKA_SASL_USERNAME"]["value"] == name, where
        assert env[f"{prefix}KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": name, "key": "password"}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        ca_file = env[f"{prefix}KAFKA_SSL_CA_FILE"]["value"]
        volume = mounts[ca_file.rsplit("/", 1)[0]]
        (secret,) = [v["secret"] for v in pod_spec(workload)["volumes"] if v["name"] == volume]
        assert secret["secretName"] == "kafka-cluster-ca-cert" and secret["items"] == [
            {"key": "ca.crt", "path": "ca.crt"}
        ]


def test_keda_reads_the_consumer_lag_with_the_workers_kafka_user(rendered):
    objects = rendered["overlays/prod"]
    auths = named(objects, "TriggerAuthentication")
    for scaled in named(objects, "ScaledObject").values():
        name = scaled["metadata"]["labels"]["app.kubernetes.io/name"]
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"] == {"name": f"{name}-kafka"}
            assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")
        refs = {r["parameter"]: (r["name"], r["key"]) for r in auths[f"{name}-kafka"]["spec"]["secretTargetRef"]}
        assert refs == {"password": (name, "password"), "ca": ("kafka-cluster-ca-cert", "ca.crt")}


def test_development_talks_to_kafka_without_authentication(rendered):
    for build in ("base", "overlays/dev"):
        for workload in workloads(rendered[build]):
            for container in pod_spec(workload)["containers"]:
                assert not [e for e in container.get("env", []) if "KAFKA_SASL" in e["name"]]
