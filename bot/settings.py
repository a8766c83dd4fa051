"""One settings object, read from the environment (and `.env`) when `main` builds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from bot.errors import ConfigError, plain_reason
from bot.redis_conn import RedisTarget, parse_redis_url
from bot.roster import Roster, parse_roster


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Optional here so that `check` runs without them; `serve` requires them (require_slack).
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # One server, Sentinel or Cluster: see redis_conn.py for the forms.
    redis_url: str | None = None
    # The sentinels' own password, when they have one (the data nodes' is in REDIS_URL).
    redis_sentinel_password: SecretStr | None = None
    # Replicas that must have a write before anyone is told it is done (WAIT); unset: 1 behind Sentinel,
    # else 0. `redis_wait_timeout` is how long, in seconds, a write waits for them.
    redis_wait_replicas: int | None = Field(default=None, ge=0, le=5)
    redis_wait_timeout: float = Field(default=0.5, gt=0, le=5)
    # A server's INFO may vouch that it kept every write (bot/unbroken.py); off behind a proxy that answers
    # INFO for servers it fails over between.
    redis_trust_info: bool = True
    state_dir: Path = Path("./state")
    playbooks_dir: Path = Path("./playbooks")
    templates_dir: Path = Path("./templates")
    announce_channel: str | None = None
    status_channel: str | None = None
    # Role → Slack id, or {"slack": id, "pagerduty": routing key}; see roster.py.
    roster: Roster = Field(default_factory=dict)
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
    # How long a claim on a due item (ping, reminder, PagerDuty event) holds without renewal: the replica
    # sending it renews it every third of this, so one that died is replaced within this long.
    escalation_lease_seconds: float = Field(default=3.0, ge=1.0, le=300.0)
    # A ping sent later than this after its due time says it is late (the bot was down).
    late_after_seconds: float = 10.0
    # The RCA is due this long after resolve unless the playbook sets `review_within`; the commander is
    # reminded once if it is not reviewed by then.
    rca_due_after: float = 86400.0
    # Optional Atlassian Statuspage: with both set, status updates also create and update a page incident.
    statuspage_api_key: SecretStr | None = None
    statuspage_page_id: str | None = None
    statuspage_api_url: str = "https://api.statuspage.io"
    # PagerDuty: events go to the Events API v2 for roster roles with a routing key; webhooks (V3) come back
    # on POST /pagerduty/webhook, which exists only with the subscription's secret set.
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    pagerduty_webhook_secret: SecretStr | None = None
    # An event PagerDuty could not take (429, 5xx, unreachable) is tried again after this many seconds,
    # doubling each time up to a minute; after this many attempts in all it is given up with a note.
    pagerduty_retry_seconds: float = 1.0
    pagerduty_max_attempts: int = Field(default=8, ge=1, le=10)
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

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        parse_redis_url(v)  # a ValueError's reason never quotes the URL (it may hold a password)
        return v.strip()

    @field_validator("redis_wait_replicas")
    @classmethod
    def _wait_replicas(cls, v: int | None, info: ValidationInfo) -> int | None:
        url = info.data.get("redis_url")
        if v and not url and "redis_url" not in info.data:
            return v  # REDIS_URL itself is wrong; that is the line to read
        if v and not url:
            raise ValueError("must be 0 with the embedded Redis (REDIS_URL unset), which has no replicas")
        if v and url and parse_redis_url(url).kind == "cluster":
            raise ValueError("must be 0 with a redis+cluster:// REDIS_URL (the Cluster client can't send WAIT on "
                             "the connection that wrote); set min-replicas-to-write on the Cluster's primaries")
        return v

    @field_validator("alert_webhook_token")
    @classmethod
    def _alert_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if len(v.get_secret_value()) < 16 or any(c.isspace() for c in v.get_secret_value()):
            raise ValueError("expected at least 16 characters and no spaces, e.g. the output of `openssl rand -hex 24`")
        return v

    @field_validator("statuspage_api_url", "pagerduty_events_url")
    @classmethod
    def _service_url(cls, v: str, info: ValidationInfo) -> str:
        example = {"statuspage_api_url": "https://api.statuspage.io",
                   "pagerduty_events_url": "https://events.pagerduty.com/v2/enqueue"}[str(info.field_name)]
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL such as {example}")
        return v.rstrip("/")

    @field_validator("rca_due_after", "pagerduty_retry_seconds")
    @classmethod
    def _positive_seconds(cls, v: float, info: ValidationInfo) -> float:
        if v <= 0:
            example = 86400 if info.field_name == "rca_due_after" else 1
            raise ValueError(f"expected a number of seconds above zero, e.g. {example}")
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
            try_it = "; to try the bot without Slack, run `python -m bot sandbox`" \
                if "SLACK_BOT_TOKEN" in missing else ""
            raise ConfigError("; ".join(f"setting {name}: is required but not set" for name in missing)
                              + f"{hint}; see README, Slack app setup{try_it}")

    @property
    def redis_target(self) -> RedisTarget | None:
        """What REDIS_URL names; None for the embedded server."""
        return parse_redis_url(self.redis_url) if self.redis_url else None

    @property
    def wait_replicas(self) -> int:
        """REDIS_WAIT_REPLICAS, or its default for the topology."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        target = self.redis_target
        return 1 if target is not None and target.kind == "sentinel" else 0

    def describe_redis(self) -> str:
        """Where the data lives and when a write counts, for `check` and the start-up log (no password)."""
        target = self.redis_target
        where = target.describe() if target else f"embedded redis-server, data in {self.state_dir}"
        wait = self.wait_replicas
        return where + (f"; each write confirmed by {wait} replica(s) within {self.redis_wait_timeout:g} s"
                        if wait else "; writes not confirmed by replicas (REDIS_WAIT_REPLICAS=0)")

    @property
    def statuspage_enabled(self) -> bool:
        return self.statuspage_api_key is not None and bool(self.statuspage_page_id)

    @property
    def pagerduty_roles(self) -> list[str]:
        """Roster roles with a routing key: the ones the bot pages through PagerDuty."""
        return sorted(role for role, entry in self.roster.items() if entry.pageable)

    def secret_values(self) -> list[str]:
        """Secrets that no log line may carry; Slack tokens are also caught by their shape (logs.py)."""
        values = [s.get_secret_value() for s in (self.slack_bot_token, self.slack_signing_secret,
                                                 self.slack_app_token, self.statuspage_api_key,
                                                 self.pagerduty_webhook_secret, self.redis_sentinel_password)
                  if s is not None]
        target = self.redis_target
        if target is not None and target.password:
            values.append(target.password)
        return values + [e.pagerduty.get_secret_value() for e in self.roster.values() if e.pagerduty is not None]

    @field_validator("roster", mode="before")
    @classmethod
    def _roster(cls, v: Any) -> Roster:
        return parse_roster(v)


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
                          '{"perf-lead": {"slack": "S0PERFLEAD", "pagerduty": "<routing key>"}, '
                          '"perf-oncall": "U0123ABCD"})') from None
