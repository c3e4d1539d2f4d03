"""The one settings object: every knob comes from ``CALLFLOOR_*`` env vars or arguments.

Settings are frozen and built explicitly (``Settings()``) by whoever needs them;
nothing reads the environment at import time.
"""

from __future__ import annotations

import ssl
from datetime import time
from decimal import Decimal
from functools import cached_property
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal, get_args
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


AbandonRegime = Literal["30d", "24h"]
REGIME_NAMES: tuple[str, ...] = get_args(AbandonRegime)


def parse_regimes(text: str) -> dict[str, AbandonRegime]:
    """``"camp-02=24h, camp-07=30d"`` -> {"camp-02": "24h", "camp-07": "30d"}; empty text: none."""
    regimes: dict[str, AbandonRegime] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        campaign, _, regime = (t.strip() for t in part.partition("="))
        if not campaign or regime not in REGIME_NAMES:
            raise ValueError(f"{part!r} is not CAMPAIGN=REGIME with REGIME one of {', '.join(REGIME_NAMES)}")
        regimes[campaign] = regime  # type: ignore[assignment]  # one of REGIME_NAMES: checked above
    return regimes


class Settings(BaseSettings):
    """Defaults start the embedded stack on 127.0.0.1."""

    # hide_input_in_errors: a refused password must not reach a log through str(ValidationError)
    model_config = SettingsConfigDict(
        env_prefix="CALLFLOOR_", frozen=True, extra="forbid", hide_input_in_errors=True
    )

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
    pay_plan_file: Path | None = Field(None, description=(
        "the pay plan YAML: payroll's default plan, and the commission tiers and awards the wallboard"
        " shows"
    ))
    payroll_inputs_dir: Path | None = Field(
        None, description="payroll's inputs folder: the default of `payroll run|close --inputs`, and "
        "where the wallboard's awards panel reads the roster the plan names",
    )  # fmt: skip
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$", description="the floor's one currency (ISO 4217)")
    max_amount: Decimal = Field(
        Decimal("10000000.00"), gt=0, lt=MONEY_LIMIT, decimal_places=2,
        description="largest sale_amount, list_price or sold_price accepted",
    )  # fmt: skip
    late_horizon_days: int = Field(35, ge=1, le=36_500, description="calls dialed longer ago go to the DLQ")
    snapshot_topic: str = Field(
        "callfloor.rep_snapshots", min_length=1, description=(
            "compacted topic of rep snapshots and heartbeats, which the wallboard reads"
        )
    )
    snapshot_interval_seconds: float = Field(0.25, gt=0, le=0.5, description=(
        "longest between a worker's rounds of changed reps when no batch is counted (seeding, "
        "rebalances; at most 0.5)"
    ))
    wallboard_host: str = Field("127.0.0.1", description="where the wallboard listens (address)")
    wallboard_port: int = Field(6080, ge=1, le=65535, description="where the wallboard listens (HTTP port)")
    wallboard_stale_seconds: float = Field(10.0, gt=0, description=(
        "data older than this raises the stale banner"
    ))
    shift_breaks: str = Field("12:00-13:00", description=(
        "breaks within the shift, HH:MM-HH:MM, comma-separated; empty for none"
    ))
    alerts_url: str | None = Field(None, description=(
        "Alertmanager or Prometheus base URL for the wallboard's alerts panel"
    ))
    # --- The floor, round 2 (issues 24 and 21.4): abandon regimes, wallboard limits, demo ops loop ---
    abandon_regime: AbandonRegime = Field(
        "30d", description="the floor's abandon-rate regime: 30d (US FTC, 3 % over 30 days) or "
        "24h (UK Ofcom, 3 % per campaign over 24 hours)",
    )  # fmt: skip
    abandon_regime_campaigns: str = Field(
        "", description="per-campaign regimes over the floor's, e.g. 'camp-02=24h, camp-07=30d'"
    )
    wallboard_max_connections: int = Field(
        256, ge=2, le=100_000, description="connections the wallboard holds open at once; more get 503"
    )
    demo_speedup: float = Field(
        10.0, ge=1, le=120, description="the demo's alert rules and fault timing run this many times faster "
        "than the shipped rules (1 = as shipped)",
    )  # fmt: skip
    demo_prometheus_port: int = Field(9090, ge=1, le=65535, description="the demo's Prometheus port")
    demo_alertmanager_port: int = Field(9093, ge=1, le=65535, description="the demo's Alertmanager port")

    # --- live ingest (callfloor ingest --listen / --format vicidial-db|asterisk-db;
    # docs/integrate/live-feeds.md)
    ingest_listen_user: str = Field("", description="--listen: basic-auth user (mod_json_cdr 'cred')")
    ingest_listen_password: SecretStr = Field(SecretStr(""), description=(
        "--listen: basic-auth password (never logged)"
    ))
    ingest_listen_token: SecretStr = Field(
        SecretStr(""), description="--listen: bearer token (or basic auth)"
    )
    ingest_listen_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="--listen: largest POST body (413 beyond)"
    )
    ingest_listen_max_requests: int = Field(256, ge=1, description=(
        "--listen: requests in progress at once (503 beyond), also the listen backlog"
    ))
    ingest_listen_cert_file: Path | None = Field(
        None, description="--listen: PEM certificate (chain) to serve HTTPS with; needs the key file"
    )
    ingest_listen_key_file: Path | None = Field(
        None, description="--listen: PEM private key of that certificate"
    )
    ingest_listen_key_password: SecretStr = Field(
        SecretStr(""), description="--listen: password of an encrypted key file (never logged)"
    )
    ingest_db_password: SecretStr = Field(SecretStr(""), description="-db feeds: password if --dsn has none")
    ingest_poll_seconds: float = Field(0.5, gt=0, description="-db feeds: pause between polls for new rows")
    ingest_db_window_seconds: int = Field(
        3600, ge=60, description=(
            "-db feeds: how far back a rescan reads (changes older than this are not seen)"
        )
    )
    ingest_db_rescan_seconds: float = Field(
        10.0, gt=0, description="-db feeds: how often that window is re-read"
    )

    # --- Kafka security (TLS and SASL) --------------------------------------------------------
    # One definition; streams/kafka_config.py turns it into each client library's options
    # (docs/ops/kafka-security.md). Cross-checks are in _kafka_* validators below.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description=(
            "how Kafka clients connect: `PLAINTEXT`, `SSL` (TLS), `SASL_PLAINTEXT` (SASL without TLS:"
            " a trusted network only) or `SASL_SSL`"
        )
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, validate_default=True,
        description="SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); required with a SASL_* protocol",
    )  # fmt: skip
    kafka_sasl_username: str = Field("", validate_default=True, description=(
        "SASL user; required with a SASL_* protocol"
    ))
    kafka_sasl_password: SecretStr = Field(
        SecretStr(""), validate_default=True, description=(
            "SASL password; required with a SASL_* protocol; never logged"
        )
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description=(
            "PEM file of the CA(s) that signed the brokers' certificates; without it, the system's "
            "CAs (enough for MSK and Confluent Cloud)"
        )
    )
    kafka_ssl_certfile: Path | None = Field(None, description=(
        "PEM client certificate, for clusters that authenticate clients by certificate (mutual TLS); "
        "may also hold the key"
    ))
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM private key of the client certificate")
    kafka_ssl_key_password: SecretStr = Field(
        SecretStr(""), validate_default=True, description="password of an encrypted client key (never logged)"
    )
    # Only topic creation uses it (streams/topics.py); unset keeps the local stack's one broker working.
    kafka_replication_factor: int | None = Field(
        None, ge=1, le=32,
        description="replication factor of the topics callfloor creates; creation is refused while fewer "
        "brokers are up; empty: min(3, brokers up at creation)",
    )  # fmt: skip

    # --- production (issue 23): ClickHouse over HTTPS -------------------------------------------
    clickhouse_ca_file: Path | None = Field(
        None, description="CA certificate (PEM) that signed ClickHouse's HTTPS certificate; "
        "default: the system's trusted CAs (docs/ops/deployment.md)",
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

    @field_validator("abandon_regime_campaigns")
    @classmethod
    def _regimes_parse(cls, value: str) -> str:
        parse_regimes(value)
        return value

    @cached_property
    def campaign_regimes(self) -> dict[str, AbandonRegime]:
        return parse_regimes(self.abandon_regime_campaigns)

    def abandon_regime_of(self, campaign: str) -> AbandonRegime:
        """The regime a campaign's abandon rate is judged by: its own, else the floor's."""
        return self.campaign_regimes.get(campaign, self.abandon_regime)

    @field_validator("kafka_sasl_mechanism", "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
                     "kafka_replication_factor", "ingest_listen_cert_file", "ingest_listen_key_file",
                     mode="before")  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """``VAR=`` means not set: compose and k8s pass unset optional variables as empty."""
        return None if value == "" else value

    @field_validator("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
    @classmethod
    def _sasl_needs_sasl_protocol(cls, value: object, info: ValidationInfo) -> object:
        protocol = info.data.get("kafka_security_protocol")
        if protocol is None:  # the protocol itself was refused; that error says why
            return value
        variable = f"CALLFLOOR_{str(info.field_name).upper()}"
        given = bool(value.get_secret_value() if isinstance(value, SecretStr) else value)
        if protocol.startswith("SASL_") and not given:
            raise ValueError(f"CALLFLOOR_KAFKA_SECURITY_PROTOCOL={protocol} needs {variable}")
        if given and not protocol.startswith("SASL_"):
            raise ValueError(
                f"{variable} is set but CALLFLOOR_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL "
                "(use SASL_SSL, or SASL_PLAINTEXT on a trusted network)"
            )
        return value

    @field_validator("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
    @classmethod
    def _tls_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return value
        variable = f"CALLFLOOR_{str(info.field_name).upper()}"
        protocol = info.data.get("kafka_security_protocol")
        if protocol is not None and not protocol.endswith("SSL"):
            raise ValueError(f"{variable} is set but CALLFLOOR_KAFKA_SECURITY_PROTOCOL={protocol} "
                             "does not use TLS (use SSL or SASL_SSL)")  # fmt: skip
        if not value.is_file():
            raise ValueError(f"{variable}: no such file {value}")
        try:
            value.open("rb").close()
        except OSError as exc:
            raise ValueError(f"{variable}: cannot read {value}: {exc.strerror}") from None
        if info.field_name == "kafka_ssl_keyfile" and info.data.get("kafka_ssl_certfile") is None:
            raise ValueError(f"{variable} needs CALLFLOOR_KAFKA_SSL_CERTFILE (the certificate of that key)")
        if info.field_name == "kafka_ssl_cafile":
            try:
                ssl.create_default_context(cafile=str(value))
            except ssl.SSLError as exc:
                raise ValueError(f"{variable}: {value} holds no PEM CA certificate ({exc.reason})") from None
        return value

    @field_validator("kafka_ssl_key_password")
    @classmethod
    def _key_password_needs_key(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if value.get_secret_value() and info.data.get("kafka_ssl_keyfile") is None:
            raise ValueError("CALLFLOOR_KAFKA_SSL_KEY_PASSWORD is set but CALLFLOOR_KAFKA_SSL_KEYFILE is not")
        certfile, keyfile = info.data.get("kafka_ssl_certfile"), info.data.get("kafka_ssl_keyfile")
        if certfile is not None:  # loaded here so a wrong key or password is named at start
            try:
                ssl.create_default_context().load_cert_chain(
                    str(certfile), str(keyfile) if keyfile else None, lambda: value.get_secret_value()
                )
            except ssl.SSLError as exc:
                raise ValueError(
                    f"the client certificate CALLFLOOR_KAFKA_SSL_CERTFILE={certfile} does not load with "
                    f"CALLFLOOR_KAFKA_SSL_KEYFILE={keyfile} and CALLFLOOR_KAFKA_SSL_KEY_PASSWORD "
                    f"({exc.reason or exc}: a wrong or missing key password, or a key of another certificate)"
                ) from None
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


class SettingsError(ValueError):
    """Bad ``CALLFLOOR_*`` values: one line per problem, each naming its variable. The
    command line turns it into a message and exit 2 (``deploy.cli.main``); a data package
    never ends the process itself."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with non-None ``overrides`` on top; a bad value raises
    :class:`SettingsError` naming the variable, never a pydantic traceback."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError([
            f"bad setting CALLFLOOR_{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]) from None
