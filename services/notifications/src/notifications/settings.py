from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    http_port: int = 8105
    database_url: SecretStr = SecretStr("postgresql://notifications:notifications@127.0.0.1:54329/notifications")
