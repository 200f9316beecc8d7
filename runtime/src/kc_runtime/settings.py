"""Settings shared by every service, read from ``<SERVICE>_…`` environment variables."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlparse

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ProcessRole = Literal["api", "consumers", "relay"]
"""What a process runs (not a user's role in a company: those are users' ``roles``)."""
KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
OtelExporter = Literal["none", "otlp", "console"]

# The eventsourcing library builds its connections from POSTGRES_HOST, _USER, … only; the URL's query (libpq's
# parameters: sslmode, sslrootcert, sslcert, sslkey, application_name, …) travels under this key and
# ServiceApplication hands it to the library's pool (kc_runtime.eventstore). asyncpg reads the same query itself.
POSTGRES_PARAMS = "KC_POSTGRES_PARAMS"


class _RenamedVariables(PydanticBaseSettingsSource):
    """Variables under the names earlier versions read, taken when the new name is unset (a deployment keeps
    working through an upgrade) and reported as a ``FutureWarning`` naming the new one."""

    RENAMED = {"ROLES": "process_roles"}

    def __init__(self, settings_cls: type[BaseSettings], prefix: str) -> None:
        super().__init__(settings_cls)
        self.prefix = prefix

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        environ = {k.upper(): v for k, v in os.environ.items()}
        for old, field in self.RENAMED.items():
            old_name, new_name = f"{self.prefix}{old}".upper(), f"{self.prefix}{field}".upper()
            if old_name not in environ:
                continue
            if new_name in environ:
                # e.g. an overlay still patching the old name onto a worker whose config map now sets the new one
                warnings.warn(
                    f"{old_name} is ignored: {new_name} is set; remove {old_name}", FutureWarning, stacklevel=2
                )
                continue
            raw = environ[old_name]
            try:
                found[field] = json.loads(raw)
            except ValueError:
                found[field] = [part.strip() for part in raw.split(",") if part.strip()]
            warnings.warn(f"{old_name} is deprecated: set {new_name} instead", FutureWarning, stacklevel=2)
        return found


class ServiceSettings(BaseSettings):
    """Base settings. Each service subclasses it with its own ``env_prefix`` (``APPROVAL_``, …)."""

    model_config = SettingsConfigDict(env_prefix="KC_", extra="ignore")

    service_name: str = "kundencenter"
    profile: Literal["development", "production"] = Field(
        default_factory=lambda: "production" if os.environ.get("KC_PROFILE") == "production" else "development",
        description="development: the local stack and the tests (the operator API falls back to a development "
        "token); production: every deployment (the images set KC_PROFILE=production): the service refuses to "
        "start without its operator token. Default: the variable KC_PROFILE if it says production, else development",
    )
    ops_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the operator API under /ops/ on the service's own port (parked events, "
        "support views, commands). Required outside the development profile",
    )
    users_internal_url: str = Field(
        default="http://127.0.0.1:8102",
        description="Where users' internal API is (ADR 0035: persons' keys, GET /internal/person-keys/{id} on users' "
        "own port, never through the gateway); in a cluster users' Service, http://users",
    )
    users_internal_token: SecretStr | None = Field(
        default=None,
        description="Bearer token presented to users' internal API: the value of users' USERS_INTERNAL_TOKEN. "
        "Unset: users' development token in the development profile; outside it a service that fetches keys "
        "refuses to start",
    )
    index_secret: SecretStr | None = Field(
        default=None,
        description="Secret of the blind indexes that find people by their e-mail address (kc_runtime.blind_index, "
        "ADR 0035): at least 32 bytes, one per service, never changed (an address claimed under one secret is not "
        "found under another). Unset: a development secret in the development profile; outside it a service "
        "keeping such an index refuses to start",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed: the "
        "client address is the nearest address in it that is not one of them (the gateway's, in a cluster)",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT", description="How to reach the brokers: TLS (SSL), SASL authentication, or both"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        default="SCRAM-SHA-512",
        description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL); Strimzi's KafkaUsers use SCRAM-SHA-512",
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user (the KafkaUser's name)")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (Strimzi: key password of the Secret the User Operator writes)"
    )
    kafka_ssl_ca_file: str | None = Field(
        default=None, description="PEM file of the CA that signed the brokers' certificates (default: the system's CAs)"
    )
    kafka_ssl_cert_file: str | None = Field(default=None, description="PEM client certificate (mutual TLS)")
    kafka_ssl_key_file: str | None = Field(default=None, description="PEM private key of the client certificate")
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:54329/postgres")
    db_pool_size: int = Field(default=10, ge=1, le=64, description="Connections of the event store pool")
    db_pre_ping: bool = Field(
        default=False, description="Check each pooled connection before use (one more round trip per call)"
    )
    worker_threads: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Threads calling the synchronous event store; more than connections pays off because "
        "concurrent saves are group-committed by one thread",
    )
    create_schema: bool = Field(
        default=True,
        description="Migrate the database to the head revision of the service's history at start (ADR 0019; a "
        "process without a history creates missing tables). Off: the process only checks that the database is at "
        "that revision and has its tables, and exits with a clear error if not; `python -m kc_runtime.schema "
        "create <package>` (the db-init Job) migrates it, so the pods can run with a role that cannot change the "
        "schema",
    )
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    process_roles: list[ProcessRole] = Field(
        default=["api", "consumers", "relay"],
        description="What this process runs; one image can run the roles together or apart (the variable's "
        "name before 0.2 was `<PREFIX>ROLES`: still read when this one is unset, with a warning)",
    )
    consumer_group: str | None = Field(default=None, description="Defaults to the service name")
    instance_id: str | None = Field(
        default=None,
        description="Static consumer-group membership (Kafka group.instance.id): a restarted process with the same "
        "id takes its partitions back at once instead of waiting for the session timeout (e.g. a StatefulSet "
        "pod name). Unset: dynamic membership",
    )
    consumer_session_timeout_ms: int = Field(default=10_000, ge=6_000, le=300_000)
    consumer_batch_size: int = Field(default=200, ge=1, description="Records fetched and handled per batch")
    consumer_commit_interval_s: float = Field(
        default=0.5,
        ge=0,
        description="Most time between handling a batch and committing its offsets to Kafka (0: after every batch). "
        "Effects are exactly-once by the tracking records, not by the offsets: a message handled but not committed "
        "when a process dies is delivered again and skipped. Topics a read fence waits on commit at once",
    )
    relay_batch_size: int = Field(default=500, ge=1)
    relay_idle_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Followers of the service's log (relay, projections, mail dispatch) wake on the event store's "
        "NOTIFY at once; this is only the safety-net poll for an event whose notification never came (written "
        "without NOTIFY, e.g. a restore). A lost listening connection is noticed at once, not by this poll",
    )
    consumer_max_attempts: int = Field(
        default=5, ge=1, description="Attempts for a failing message before it goes to the dead-letter topic"
    )
    consumer_backoff_initial_s: float = 0.1
    consumer_backoff_max_s: float = 10.0
    topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name: isolates test runs or environments sharing one cluster",
    )
    otel_exporter: OtelExporter = Field(
        default="none",
        description="Where OpenTelemetry spans go: none (tracing off, no cost), otlp (OTLP over HTTP), console "
        "(stdout, for debugging). W3C traceparent is carried through HTTP, stored events and Kafka headers",
    )
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL (e.g. http://otel-collector:4318/v1/traces); unset: the standard "
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318/v1/traces",
    )
    otel_sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Share of new traces recorded (a request without a sampled parent); a sampled parent's "
        "decision is always followed",
    )
    jwks_url: str = "http://127.0.0.1:8112/.well-known/jwks.json"
    jwt_issuer: str = "http://127.0.0.1:8112"
    jwt_audience: str = "kundencenter"
    jwks_max_age_s: float = Field(
        default=300,
        gt=0,
        le=86400,
        description="How long the identity provider's key set is cached: a key removed from its JWKS stops "
        "being trusted within this time",
    )
    jwks_unknown_kid_refresh_s: float = Field(
        default=30,
        ge=0,
        le=3600,
        description="At most one extra JWKS fetch per this interval for tokens naming an unknown key id",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        renamed = _RenamedVariables(settings_cls, getattr(env_settings, "env_prefix", ""))
        return init_settings, env_settings, renamed, dotenv_settings, file_secret_settings

    @classmethod
    def under(cls, prefix: str) -> ServiceSettings:
        """The settings read from ``<prefix>…`` variables (a tool reading a service's own, e.g. ``APPROVAL_``)."""
        config = SettingsConfigDict(env_prefix=prefix, extra="ignore")
        return type(cls.__name__, (cls,), {"model_config": config})()

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's environment for this service's PostgreSQL database."""
        url = urlparse(self.database_url.get_secret_value())
        if url.scheme == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        # Check the query here, at start, not at the first connection: key=value pairs, each key at most once.
        params = parse_qsl(url.query, keep_blank_values=True, strict_parsing=bool(url.query))
        if len({key for key, _ in params}) != len(params):
            raise ValueError("the database URL names a parameter twice")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/"),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": str(self.db_pool_size),
            "POSTGRES_MAX_OVERFLOW": "0",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": "5",
            # A ping per checkout costs a round trip on every call; broken connections are retried anyway.
            "POSTGRES_PRE_PING": "y" if self.db_pre_ping else "n",
            "CREATE_TABLE": "y" if self.create_schema else "n",
            # a consumer's batch from several partitions in one transaction (services may name a subclass)
            "PROCESS_RECORDER_TOPIC": "kc_runtime.eventstore:MultiTrackingRecorder",
            POSTGRES_PARAMS: url.query,
        }
