from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class UsersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="USERS_", extra="ignore")

    service_name: str = "users"
    http_port: int = 8102
    database_url: SecretStr = SecretStr("postgresql://users:users@127.0.0.1:54329/users")
    publish_wait_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="A change is answered only once the outbox relay has published it (ADR 0012), waiting at most "
        "this long (then 503 not_yet_in_force); 0: answer at once",
    )
