from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class ErpSimulatorSettings(ServiceSettings):
    """Only ``http_*``, ``kafka_bootstrap_servers``, ``database_url``, ``consumer_group``, ``topic_prefix``
    and ``log_*`` of the base settings are used."""

    model_config = SettingsConfigDict(env_prefix="ERP_SIMULATOR_", extra="ignore")

    service_name: str = "erp-simulator"
    http_port: int = 8111
    database_url: SecretStr = SecretStr("postgresql://erp_simulator:erp_simulator@127.0.0.1:54329/erp_simulator")
    consumer_group: str | None = "erp-simulator"
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=5.0, gt=0)
    outbox_idle_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Every message the simulated ERP queues wakes its outbox publisher at once; this is only the "
        "safety-net poll of the outbox table when nothing woke it",
    )
    seed: bool = Field(default=True, description="Insert the seed customers (seed.py) that are missing at start")
    reject_sku_prefix: str = Field(
        default="REJECT-",
        description="Reject sales orders with a line whose SKU starts with this (an article the ERP does not sell); "
        "empty: none",
    )
    reject_total_above: Decimal | None = Field(default=None, ge=0, description="Reject sales orders above this total")
    ignore_sku_prefix: str = Field(
        default="",
        description="A fault to inject: orders with a line whose SKU starts with this are recorded, never created "
        "nor answered (an ERP that drops messages); empty: none",
    )
