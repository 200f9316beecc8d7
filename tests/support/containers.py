"""Infrastructure from testcontainers, for machines with a Docker engine and no services named by environment.

`make test` starts the Docker-free local stack and names its services in `KC_TEST_*` variables, so this is
used only when the tests run on their own on a laptop with Docker (`KC_TEST_USE_TESTCONTAINERS=1`, or Docker
reachable and no `KC_TEST_*` variable set). It starts PostgreSQL 15 and an Apache Kafka 4 broker (KRaft)
and exports their addresses; integration tests then run against them. Journey tests need the whole stack
(`make up`, or `deploy/docker/compose.yaml`).
"""

from __future__ import annotations

import os
import socket
from typing import Any

_started: list[Any] = []

NAMED = ("KC_TEST_PG_ADMIN_DSN", "KC_TEST_KAFKA_BOOTSTRAP", "KC_TEST_GATEWAY")


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def wanted() -> bool:
    flag = os.environ.get("KC_TEST_USE_TESTCONTAINERS")
    if flag is not None:
        return flag == "1"
    return not any(os.environ.get(n) for n in NAMED) and docker_available()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> None:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    pg = PostgresContainer("postgres:15", username="postgres", password="postgres", dbname="postgres")
    pg.start()
    _started.append(pg)
    host, port = pg.get_container_host_ip(), pg.get_exposed_port(5432)
    os.environ["KC_TEST_PG_ADMIN_DSN"] = f"postgresql://postgres:postgres@{host}:{port}/postgres"

    kafka_port = _free_port()
    kafka = (
        DockerContainer("apache/kafka:4.1.0")
        .with_bind_ports(9092, kafka_port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{kafka_port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
        )
    )
    kafka.start()
    _started.append(kafka)
    wait_for_logs(kafka, "Kafka Server started", timeout=90)
    os.environ["KC_TEST_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{kafka_port}"


def stop() -> None:
    while _started:
        _started.pop().stop()
