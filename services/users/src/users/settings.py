from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings

DEVELOPMENT_EMAIL_CHANGE_SECRET = "development-only-email-change-token-secret"  # noqa: S105  # local stack and tests only
DEVELOPMENT_INTERNAL_TOKEN = "development-only-users-internal-token"  # noqa: S105  # local stack and tests only


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
    email_change_token_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_EMAIL_CHANGE_SECRET),
        description="Secret the e-mail change confirmation tokens are derived from (at least 16 bytes). Set it "
        "in every deployment: with the default, anyone who reads the database can derive the tokens",
    )
    email_change_ttl_s: int = Field(
        default=24 * 3600, ge=60, le=30 * 24 * 3600, description="How long an e-mail change's confirmation is valid"
    )
    email_change_confirm_path_template: str = Field(
        default="/account/email/confirm?change={change_id}&token={token}",
        description="The shop page the e-mail change's confirmation mail links to (relative to the shop's base URL)",
    )
    internal_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the other services present to users' internal API (/internal/person-keys, ADR "
        "0035) on its own port, which the gateway never routes. Unset: a development token in the development "
        "profile; outside it the internal API refuses every call (503 internal_api_not_configured)",
    )
