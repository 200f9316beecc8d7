from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.ops import development_ops_token
from kc_runtime.settings import ServiceSettings

# The operator token of the development profile (KC_PROFILE=development: the local stack and the tests) when
# ERP_SYNC_OPS_TOKEN is not set; no other profile starts without one (kc_runtime.ops).
DEVELOPMENT_OPS_TOKEN = development_ops_token("erp-sync")


class ErpSyncSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ERP_SYNC_", extra="ignore")

    service_name: str = "erp-sync"
    http_port: int = 8104
    database_url: SecretStr = SecretStr("postgresql://erp_sync:erp_sync@127.0.0.1:54329/erp_sync")

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
