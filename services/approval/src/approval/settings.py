from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kc_runtime.settings import ServiceSettings


class ApprovalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APPROVAL_", extra="ignore")

    service_name: str = "approval"
    http_port: int = 8103
    database_url: SecretStr = SecretStr("postgresql://approval:approval@127.0.0.1:54329/approval")
    fence_timeout_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="Before judging a caller, wait at most this long until approval has applied every users event "
        "already on Kafka for the caller's company (ADR 0012; then 503); 0: no fence",
    )
    business_metrics_interval_s: float = Field(
        default=5.0, gt=0, description="How often orders by status and pending approvals are counted for /metrics"
    )
    decision_link_secret: SecretStr | None = Field(
        default=None,
        description="The secret the one-click decision links of the approval mails are signed with (at least 32 "
        "bytes, the same as NOTIFICATIONS_DECISION_LINK_SECRET; ADR 0031). Required outside the development profile",
    )
    deadline_interval_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How often the leading replica takes the deadlines due of waiting orders: remind, escalate, expire "
        "(ADR 0033); a deadline fires within this much after its time",
    )
    shortest_deadline: timedelta = Field(
        default=timedelta(hours=1),
        gt=timedelta(0),
        description="The shortest deadline a company may set (ISO 8601 duration, e.g. PT1H). The local stack and the "
        "tests use seconds",
    )
