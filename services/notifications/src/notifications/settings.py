from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    http_port: int = 8105
    database_url: SecretStr = SecretStr("postgresql://notifications:notifications@127.0.0.1:54329/notifications")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "Kundencenter <kundencenter@example.invalid>"
    shop_base_url: str = "http://127.0.0.1:8080"
