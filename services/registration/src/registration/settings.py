from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings

DEVELOPMENT_TOKEN_SECRET = "development-only-registration-token-secret"  # noqa: S105  # local stack and tests only


class RegistrationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRATION_", extra="ignore")

    service_name: str = "registration"
    http_port: int = 8101
    database_url: SecretStr = SecretStr("postgresql://registration:registration@127.0.0.1:54329/registration")

    token_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_TOKEN_SECRET),
        description="Secret the confirmation tokens are derived from (at least 16 bytes). Set it in every "
        "deployment: with the default, anyone who reads the database can derive the tokens",
    )
    confirmation_ttl_s: int = Field(default=24 * 3600, ge=1, description="How long a confirmation token is valid")
    confirmation_max_failures: int = Field(
        default=5, ge=1, description="Wrong tokens after which a registration is rejected"
    )
    confirm_path_template: str = Field(
        default="/registration/confirm?registration={registration_id}&token={token}",
        description="The shop page the confirmation mail links to (relative to the shop's base URL)",
    )
    lockout_window_s: int = Field(default=15 * 60, ge=1, description="Sliding window of the lockout counters")
    lockout_duration_s: int = Field(default=15 * 60, ge=1, description="How long a lockout lasts")
    lockout_max_failures_per_customer_at_address: int = Field(
        default=5,
        ge=1,
        description="Failed (or unanswered) attempts per customer number from one client address within the window: "
        "then that address is locked out for that customer (the guesser, not the customer)",
    )
    lockout_max_failures_per_customer: int = Field(
        default=25,
        ge=1,
        description="Failed (or unanswered) attempts per customer number from any address within the customer "
        "window: then only a client address with nothing against it for this customer gets an attempt",
    )
    lockout_customer_window_s: int = Field(
        default=3600, ge=1, description="Sliding window of the customer-wide counter (longer: slower to forget)"
    )
    lockout_customer_duration_s: int = Field(default=3600, ge=1, description="How long the customer-wide limit holds")
    lockout_max_failures_per_address: int = Field(
        default=20, ge=1, description="Failed (or unanswered) attempts per client address within the window"
    )
