from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings

DEVELOPMENT_OPS_TOKEN = "development-only-erp-sync-ops-token"  # noqa: S105  # local stack and tests only


class ErpSyncSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ERP_SYNC_", extra="ignore")

    service_name: str = "erp-sync"
    http_port: int = 8104
    database_url: SecretStr = SecretStr("postgresql://erp_sync:erp_sync@127.0.0.1:54329/erp_sync")

    ops_token: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_OPS_TOKEN),
        description="Bearer token of the operator commands under /ops/ (replay, dead-letter retry) on erp-sync's "
        "own port. Set it in every deployment: the default is a development token",
    )
    delivery_retry_initial_s: float = Field(
        default=300.0, gt=0, description="First wait for the ERP's answer to an order or contact before sending again"
    )
    delivery_retry_max_s: float = Field(
        default=3600.0, gt=0, description="Longest wait between two copies of an unanswered message (backoff cap)"
    )
    delivery_give_up_after_s: float = Field(
        default=72 * 3600.0,
        gt=0,
        description="Give an unanswered message up after this long: failed, copied to its dead-letter topic",
    )
    delivery_schedule_interval_s: float = Field(default=1.0, gt=0, description="How often the retry schedule looks")
