from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class VerificationSettings(BaseSettings):
    """How erp-sync retries customer verifications the ERP leaves unanswered (``ERP_SYNC_VERIFICATION_…``)."""

    model_config = SettingsConfigDict(env_prefix="ERP_SYNC_VERIFICATION_", extra="ignore")

    retry_initial_s: float = Field(default=5.0, gt=0, description="First wait for an answer before asking again")
    retry_max_s: float = Field(default=300.0, gt=0, description="Longest wait between two questions (backoff cap)")
    give_up_after_s: float = Field(
        default=24 * 3600.0, gt=0, description="Abandon a verification (ERP unavailable) after this long"
    )
    schedule_interval_s: float = Field(default=1.0, gt=0, description="How often the retry schedule looks")
