"""One settings object, read from the environment (and `.env`) when `main` builds it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from bot.errors import ConfigError, plain_reason

_ROSTER_ID = re.compile(r"^[US][A-Z0-9]+$|^[US]_[A-Z0-9_]+$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Optional here so that `check` runs without them; `serve` requires them (require_slack).
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    redis_url: str | None = None
    state_dir: Path = Path("./state")
    playbooks_dir: Path = Path("./playbooks")
    templates_dir: Path = Path("./templates")
    announce_channel: str | None = None
    status_channel: str | None = None
    roster: dict[str, str] = Field(default_factory=dict)
    log_level: str = "INFO"
    # "text" for people, "json" for log aggregators: one object per line.
    log_format: Literal["text", "json"] = "text"
    # On SIGTERM/SIGINT, how long in-flight requests and pings may take before they are cut off.
    shutdown_timeout: float = 10.0
    # A request whose body has not fully arrived by then is dropped (a slow sender holds a connection).
    request_body_timeout: float = 10.0
    # Only members of an incident's channel may change it (needs the channels:read and groups:read scopes).
    restrict_to_members: bool = False
    # How often each replica looks for due escalations; the on-time promise is one second.
    scheduler_interval: float = 0.2
    # A replica that claimed a ping and died is replaced after this long.
    escalation_lease_seconds: float = 30.0
    # A ping sent later than this after its due time says it is late (the bot was down).
    late_after_seconds: float = 10.0
    # The RCA is due this long after resolve; the commander is reminded once if it is not reviewed by then.
    rca_due_after: float = 86400.0
    # Optional Atlassian Statuspage: with both set, status updates also create and update a page incident.
    statuspage_api_key: SecretStr | None = None
    statuspage_page_id: str | None = None
    statuspage_api_url: str = "https://api.statuspage.io"
    # Alertmanager (or Grafana) sends it as `Authorization: Bearer …`; unset, POST /alerts/alertmanager is off.
    alert_webhook_token: SecretStr | None = None

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        bot = info.field_name == "slack_bot_token"
        prefix, kind = ("xoxb-", "a bot token") if bot else ("xapp-", "an app-level token")
        if v is not None and not v.get_secret_value().startswith(prefix):
            raise ValueError(f"expected {kind} starting with {prefix}")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL such as https://slack.com/api/")
        return v if v.endswith("/") else v + "/"

    @field_validator("alert_webhook_token")
    @classmethod
    def _alert_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if len(v.get_secret_value()) < 16 or any(c.isspace() for c in v.get_secret_value()):
            raise ValueError("expected at least 16 characters and no spaces, e.g. the output of `openssl rand -hex 24`")
        return v

    @field_validator("statuspage_api_url")
    @classmethod
    def _statuspage_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL such as https://api.statuspage.io")
        return v.rstrip("/")

    @field_validator("rca_due_after")
    @classmethod
    def _rca_due_after(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("expected a number of seconds above zero, e.g. 86400")
        return v

    @property
    def bot_token(self) -> str:
        if self.slack_bot_token is None:
            raise ConfigError("setting SLACK_BOT_TOKEN: is required to serve; copy the Bot User OAuth Token (xoxb-…)")
        return self.slack_bot_token.get_secret_value()

    @property
    def signing_secret(self) -> str:
        if self.slack_signing_secret is None:
            raise ConfigError("setting SLACK_SIGNING_SECRET: is required to serve; copy it from Basic Information")
        return self.slack_signing_secret.get_secret_value()

    def require_slack(self, *, socket_mode: bool) -> None:
        """`serve` needs the tokens `check` can do without; one line names each that is missing."""
        missing = [name for name, value in (("SLACK_BOT_TOKEN", self.slack_bot_token),
                                            ("SLACK_SIGNING_SECRET", self.slack_signing_secret)) if value is None]
        if socket_mode and self.slack_app_token is None:
            missing.append("SLACK_APP_TOKEN")
        if missing:
            hint = " (or run `serve --http`)" if missing == ["SLACK_APP_TOKEN"] else ""
            raise ConfigError("; ".join(f"setting {name}: is required but not set" for name in missing)
                              + f"{hint}; see README, Slack app setup")

    @property
    def statuspage_enabled(self) -> bool:
        return self.statuspage_api_key is not None and bool(self.statuspage_page_id)

    @field_validator("roster")
    @classmethod
    def _roster(cls, v: dict[str, str]) -> dict[str, str]:
        for role, target in v.items():
            if not _ROSTER_ID.match(target):
                raise ValueError(
                    f"role {role!r} maps to {target!r}; expected a Slack user id (U…) or user-group id (S…)"
                )
        return v


def load_settings(env_file: str | None = ".env", **overrides: object) -> Settings:
    """Build settings, turning validation errors into one line per bad setting."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[arg-type, call-arg]
    except ValidationError as e:
        lines = []
        for err in e.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            lines.append(f"setting {name}: {plain_reason(err)}")
        raise ConfigError("; ".join(lines)) from None
    except SettingsError as e:
        # pydantic-settings names the field in its message, e.g. 'error parsing value for field "roster"'.
        field = str(e).split('"')[1].upper() if '"' in str(e) else "a setting"
        raise ConfigError(f"setting {field}: is not valid JSON (expected e.g. "
                          '{"perf-lead": "U0123ABCD", "perf-oncall": "S0456EFGH"})') from None
