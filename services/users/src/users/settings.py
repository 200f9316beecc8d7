from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class UsersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="USERS_", extra="ignore")

    service_name: str = "users"
    http_port: int = 8102
    database_url: SecretStr = SecretStr("postgresql://users:users@127.0.0.1:54329/users")
