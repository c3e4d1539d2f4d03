"""Which Host headers name a server of ours (the ClickHouse endpoint and the wallboard share it)."""

from __future__ import annotations

import pytest

from schemas.served_hosts import host_names_this_server, http_url, served_host_names


@pytest.mark.parametrize("header", ["127.0.0.1", "127.0.0.1:6080", "localhost:6080", " LocalHost:6080 "])
def test_a_loopback_bind_answers_its_address_and_localhost(header: str) -> None:
    assert host_names_this_server(header, served_host_names("127.0.0.1", 6080))


@pytest.mark.parametrize("header", ["evil.example", "evil.example:6080", "127.0.0.2:6080", "127.0.0.1:6081",
                                    "", "localhost.evil.example:6080"])  # fmt: skip
def test_other_names_and_ports_are_refused(header: str) -> None:
    assert not host_names_this_server(header, served_host_names("127.0.0.1", 6080))


def test_ipv6_and_lan_binds() -> None:
    assert host_names_this_server("[::1]:8123", served_host_names("::1", 8123))
    assert host_names_this_server("localhost", served_host_names("::1", 8123))
    lan = served_host_names("192.168.1.20", 6080)
    assert host_names_this_server("192.168.1.20:6080", lan)
    assert not host_names_this_server("localhost:6080", lan)


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_a_wildcard_bind_cannot_tell_and_answers_any_name(bind: str) -> None:
    assert served_host_names(bind, 6080) is None
    assert host_names_this_server("tv-wall.floor.lan:6080", None)


def test_the_url_a_person_opens_brackets_an_ipv6_address() -> None:
    assert http_url("127.0.0.1", 6080) == "http://127.0.0.1:6080/"
    assert http_url("::1", 6080) == "http://[::1]:6080/"
    assert http_url("[::1]", 6080) == "http://[::1]:6080/"
    assert http_url("wallboard.floor.local", 80) == "http://wallboard.floor.local:80/"
