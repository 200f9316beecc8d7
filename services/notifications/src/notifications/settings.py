from pydantic import Field, SecretStr, field_validator
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
    decision_link_secret: SecretStr | None = Field(
        default=None,
        description="The secret the one-click decision links of the approval mails are signed with (at least 32 "
        "bytes, the same as APPROVAL_DECISION_LINK_SECRET; ADR 0031). Required outside the development profile",
    )
    decision_link_ttl_s: int = Field(
        default=7 * 24 * 3600, ge=60, le=30 * 24 * 3600, description="How long a mail's decision links are valid"
    )
    decision_path_template: str = Field(
        default="/decision?token={token}",
        description="The shop page a decision link opens (relative to the shop's base URL; `{token}` is the link's "
        "token): it shows the order and asks for the confirmation (POST /api/decision-links/preview, then /decide)",
    )
    digest_hour: int = Field(
        default=7,
        ge=0,
        le=23,
        description="The hour (local time of NOTIFICATIONS_DIGEST_TIMEZONE) at which each day's digests are sent "
        "(ADR 0027); avoid 2, which the clocks skip once a year in Europe/Berlin",
    )
    digest_timezone: str = Field(
        default="Europe/Berlin", description="The time zone (IANA name) of the digest hour and of the digest's day"
    )
    digest_check_interval_s: float = Field(
        default=60.0, gt=0, le=3600, description="How often the active digest scheduler looks for due digests"
    )
    fence_timeout_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="Before judging a caller of the preferences API, wait at most this long until notifications "
        "has applied every users event already on Kafka for the caller's company (ADR 0012; then 503); 0: no fence",
    )

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)  # an unknown zone fails at start, not at the first digest
        return value
