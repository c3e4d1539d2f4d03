"""The one settings object: every knob comes from ``CALLFLOOR_*`` env vars or arguments.

Settings are frozen and built explicitly (``Settings()``) by whoever needs them;
nothing reads the environment at import time.
"""

from __future__ import annotations

import sys
from datetime import time
from decimal import Decimal
from functools import cached_property
from ipaddress import ip_address
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.cdr import MONEY_LIMIT, CdrRules


def is_loopback(host: str) -> bool:
    """True for names and addresses that never leave this machine."""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def parse_breaks(text: str) -> tuple[tuple[time, time], ...]:
    """``"12:00-13:00, 15:30-15:45"`` -> ((12:00, 13:00), (15:30, 15:45)); empty text: no breaks."""
    breaks = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            start, end = (time.fromisoformat(t.strip()) for t in part.split("-"))
        except ValueError:
            raise ValueError(f"break {part!r} is not HH:MM-HH:MM") from None
        if end <= start:
            raise ValueError(f"break {part!r} ends before it starts")
        breaks.append((start, end))
    return tuple(sorted(breaks))


class Settings(BaseSettings):
    """Defaults start the embedded stack on 127.0.0.1."""

    model_config = SettingsConfigDict(env_prefix="CALLFLOOR_", frozen=True, extra="forbid")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    clickhouse_url: str = Field("http://127.0.0.1:8123", description="ClickHouse HTTP URL")
    clickhouse_user: str = Field("default", description="ClickHouse user")
    clickhouse_password: SecretStr = Field(SecretStr(""), description="ClickHouse password")
    clickhouse_database: str = Field("callfloor", description="ClickHouse database")
    clickhouse_cluster: str = Field("", description="ClickHouse cluster: replicated, sharded DDL ON CLUSTER")
    timezone: str = Field("Asia/Shanghai", description="business time zone (IANA name)")
    valid_call_seconds: int = Field(30, ge=0, description="talk seconds that make a valid connect")
    cdr_topic: str = Field("callfloor.cdr", min_length=1, description="topic the dialer writes")
    partitions: int = Field(8, ge=1, le=1024, description="partitions of the CDR topic")
    app_id: str = Field("callfloor", min_length=1, description="Faust app id / consumer group")
    web_host: str = Field("127.0.0.1", description="worker web bind address")
    web_port: int = Field(6066, ge=1, le=65535, description="worker web port (Faust web)")
    # Counting does not wait for a flush, so this bounds only how fresh ClickHouse is and when
    # offsets commit: 1 s is ClickHouse's own advice (about an insert a second per table), and
    # took the embedded ClickHouse from 13 % to 5 % of a core in the demo against 0.25 s.
    sink_flush_seconds: float = Field(1.0, gt=0, description="longest a row waits in the sink")
    sink_batch_rows: int = Field(20_000, ge=1, description="rows that trigger a sink flush")
    data_dir: Path = Field(Path(".callfloor"), description="embedded ClickHouse data directory")
    targets_file: Path | None = Field(None, description="daily/monthly targets file (YAML)")
    targets_reload_seconds: float = Field(5.0, gt=0, description="how often the targets file is checked")
    shift_start: time = Field(time(9, 0), description="shift start, local business time")
    shift_end: time = Field(time(18, 0), description="shift end, local business time")
    dial_rate_floor_per_hour: float = Field(40.0, ge=0, description="alert when a rep dials slower")
    refresh_seconds: float = Field(30.0, gt=0, description="refresh of ClickHouse-backed gauges")
    pay_plan_file: Path | None = Field(None, description="payroll plan YAML")
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$", description="the floor's one currency (ISO 4217)")
    max_amount: Decimal = Field(
        Decimal("10000000.00"), gt=0, lt=MONEY_LIMIT, decimal_places=2,
        description="largest sale_amount, list_price or sold_price accepted",
    )  # fmt: skip
    late_horizon_days: int = Field(35, ge=1, le=36_500, description="calls dialed longer ago go to the DLQ")
    snapshot_topic: str = Field(
        "callfloor.rep_snapshots", min_length=1, description="compacted per-rep snapshots for the wallboard"
    )
    snapshot_interval_seconds: float = Field(0.25, gt=0, le=0.5, description="how often changed reps publish")
    wallboard_host: str = Field("127.0.0.1", description="wallboard bind address")
    wallboard_port: int = Field(6080, ge=1, le=65535, description="wallboard HTTP port")
    wallboard_stale_seconds: float = Field(10.0, gt=0, description="data older than this shows the banner")
    shift_breaks: str = Field("12:00-13:00", description="breaks in the shift, HH:MM-HH:MM, comma-separated")
    alerts_url: str | None = Field(None, description="Alertmanager or Prometheus URL for firing alerts")

    # --- production (issue 23): ClickHouse over HTTPS -------------------------------------------
    clickhouse_ca_file: Path | None = Field(
        None, description="CA certificate (PEM) that signed ClickHouse's HTTPS certificate; "
        "default: the system's trusted CAs (docs/deployment.md)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("shift_end")
    @classmethod
    def _shift_order(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("shift_start")
        if start is not None and value <= start:
            raise ValueError(f"shift_end {value} must be after shift_start {start}")
        return value

    @field_validator("shift_breaks")
    @classmethod
    def _breaks_parse(cls, value: str) -> str:
        parse_breaks(value)
        return value

    @cached_property
    def breaks(self) -> tuple[tuple[time, time], ...]:
        return parse_breaks(self.shift_breaks)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def cdr_rules(self) -> CdrRules:
        """The floor's own rules on top of schema v1 (currency, amount bound, horizon)."""
        return CdrRules(self.currency, self.max_amount, self.late_horizon_days)

    @property
    def clickhouse_token_file(self) -> Path:
        """The embedded endpoint's per-install token (created by ``callfloor clickhouse``)."""
        return self.data_dir / "clickhouse.token"

    @property
    def dlq_topic(self) -> str:
        return f"{self.cdr_topic}.dlq"

    def to_env(self) -> dict[str, str]:
        """``CALLFLOOR_*`` variables that rebuild these settings in a child process."""
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            env[f"CALLFLOOR_{name.upper()}"] = text
        return env

    def masked(self) -> dict[str, object]:
        """A dump safe to print or log: secrets show as ``**********``."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return {
            name: "**********" if isinstance(value, SecretStr) and value else str(value)
            for name, value in values.items()
        }


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment with non-None ``overrides`` on top; a bad value stops
    the process (exit 2) with a message naming the variable, never a traceback."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"])
            print(f"callfloor: bad setting CALLFLOOR_{field.upper()}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
