"""The one way this project reaches ClickHouse: clickhouse-connect and a URL from settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from schemas.settings import Settings, is_loopback
from sinks.clickhouse.cluster import CLIENT_SETTINGS as CLUSTER_CLIENT_SETTINGS

# Sent with every query. ``calls`` is partitioned by month, and copies of a call in two
# partitions are ddl.EXACT_CALLS's business, so FINAL need not merge across partitions; a
# month whose parts are merged is then read without merging at all (10M calls: ~0.03 s
# against ~8 s for one month's FINAL merging across all partitions).
READ_SETTINGS = {"do_not_merge_across_partitions_select_final": 1}


def connect(
    settings: Settings,
    *,
    database: str | None = None,
    query_settings: Mapping[str, object] | None = None,
    **kwargs: Any,
) -> Client:
    """A client for ``settings.clickhouse_url``; ``database=""`` connects without one;
    ``query_settings`` go with every query, over the defaults."""
    url = urlsplit(settings.clickhouse_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(
            f"CALLFLOOR_CLICKHOUSE_URL must look like http://host:8123, got {url.geturl()!r}"
        )
    defaults = {**READ_SETTINGS, **(CLUSTER_CLIENT_SETTINGS if settings.clickhouse_cluster else {})}
    tls: dict[str, Any] = {"ca_cert": str(settings.clickhouse_ca_file)} if settings.clickhouse_ca_file else {}
    return clickhouse_connect.get_client(
        host=url.hostname,
        port=url.port or (8443 if url.scheme == "https" else 8123),
        secure=url.scheme == "https",
        username=settings.clickhouse_user,
        password=password_for(settings),
        database=settings.clickhouse_database if database is None else database,
        settings={**defaults, **(query_settings or {})},
        **tls,
        **kwargs,
    )


def tables_not_made_yet(exc: BaseException) -> bool:
    """ClickHouse answered that the database or table is unknown: ``callfloor migrate``,
    which makes them, has not run yet."""
    text = str(exc)
    return "UNKNOWN_DATABASE" in text or "UNKNOWN_TABLE" in text


def password_for(settings: Settings) -> str:
    """The configured password; without one, the embedded endpoint's per-install token when
    the URL is on this machine and the token file exists (a real ClickHouse user without a
    password ignores it), so nothing a user types changes."""
    password = settings.clickhouse_password.get_secret_value()
    host = urlsplit(settings.clickhouse_url).hostname or ""
    if password or not is_loopback(host):
        return password
    try:
        return settings.clickhouse_token_file.read_text().strip()
    except FileNotFoundError:
        return ""


def without_dataframes() -> None:
    """Keep pandas out of the worker: clickhouse-connect imports it on the first insert to
    check for DataFrames (about 80 MiB of RSS and a pause with the GIL held); we insert
    plain rows only."""
    from clickhouse_connect.driver import options

    options.pd = None
