from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class ErpSyncSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ERP_SYNC_", extra="ignore")

    service_name: str = "erp-sync"
    http_port: int = 8104
    database_url: SecretStr = SecretStr("postgresql://erp_sync:erp_sync@127.0.0.1:54329/erp_sync")
