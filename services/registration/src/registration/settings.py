from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class RegistrationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRATION_", extra="ignore")

    service_name: str = "registration"
    http_port: int = 8101
    database_url: SecretStr = SecretStr("postgresql://registration:registration@127.0.0.1:54329/registration")
