"""The engine's operating-system isolation ALONE (issue 21, items 1 and 3): with the SQL fence
switched off inside the engine process (``EmbeddedClickHouse(fenced=False)``), file reads
outside the data directory, program starts, outbound connections and writes outside the data
directory still fail. Each attack is checked on the answer AND on its effect: no secret byte
in the answer, no connection at the test's listener, no new process, nothing new on disk.

The first test proves the fence really is off: it reads back, through ``file()`` (which the
fence refuses by name), a file the engine wrote inside its own data directory.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.clickhouse import EmbeddedClickHouse
from tests.attack.conftest import Endpoint
from tests.attack.raw import Answer, build, call, exchange, record
from tests.support.processes import process_tree

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def unfenced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedClickHouse]:
    server = EmbeddedClickHouse(tmp_path_factory.mktemp("unfenced") / "data", port=0, fenced=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _token(server: EmbeddedClickHouse) -> str:
    assert server.token_file is not None
    return server.token_file.read_text().strip()


def _ask(server: EmbeddedClickHouse, attack: str, sql: str, **settings: str) -> Answer:
    """POST ``sql`` (GET would be read-only, which stops some attacks before the sandbox does)."""
    request = build(server.port, "POST", settings or None, body=sql.encode(), token=_token(server))
    return record(f"sandbox: {attack}", exchange(server.port, request, timeout_s=120))


def _engine_processes(server: EmbeddedClickHouse) -> set[int]:
    assert server.engine_pid is not None
    return process_tree(server.engine_pid)


def test_fence_is_off_and_the_data_directory_works(unfenced: EmbeddedClickHouse) -> None:
    """The control: file() (refused by the fence) reads and writes inside the data directory."""
    inside = unfenced.path / "user_files_probe.csv"
    written = _ask(unfenced, "file() write inside the data dir",
                   f"INSERT INTO FUNCTION file('{inside}', 'CSV', 'a UInt32') SELECT 4242")  # fmt: skip
    assert written.status == 200, written.text
    read = _ask(unfenced, "file() read inside the data dir",
                f"SELECT a FROM file('{inside}', 'CSV', 'a UInt32')")  # fmt: skip
    assert read.status == 200, read.text
    assert read.text.strip() == "4242"


@pytest.fixture(scope="module")
def secrets_outside(
    unfenced: EmbeddedClickHouse, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, str]:
    """Files the engine must never read, and a string from each that no answer may carry."""
    mine = tmp_path_factory.mktemp("outside") / "secret.txt"
    mine.write_text("SANDBOX-CANARY-7d41\n")
    assert unfenced.token_file is not None
    return {
        Path("/etc/passwd"): "root:x:0:0",
        unfenced.token_file: _token(unfenced),
        mine: "SANDBOX-CANARY-7d41",
    }


READS = {
    "file() table function": "SELECT * FROM file('{path}', 'LineAsString')",
    "file() scalar function": "SELECT file('{path}')",
    "path as a table name": "SELECT * FROM `{path}`",
    "Filesystem database": "SELECT * FROM fs_probe.`{name}`",
    "File engine table": "SELECT * FROM file_engine_probe",
}


@pytest.mark.parametrize("how", sorted(READS))
def test_files_outside_cannot_be_read(
    unfenced: EmbeddedClickHouse, secrets_outside: dict[Path, str], how: str
) -> None:
    for path, secret in secrets_outside.items():
        setup = {
            "Filesystem database": "CREATE DATABASE IF NOT EXISTS fs_probe "
            f"ENGINE = Filesystem('{path.parent}')",
            "File engine table": "CREATE OR REPLACE TABLE file_engine_probe (s String) "
            f"ENGINE = File(LineAsString, '{path}')",
        }.get(how)  # fmt: skip
        if setup is not None:
            _ask(unfenced, f"setup for {how}", setup)
        answer = _ask(unfenced, f"{how}: {path.name}", READS[how].format(path=path, name=path.name))
        assert answer.status != 200, answer.text
        assert secret not in answer.text
        assert secret.encode() not in answer.head
        _ask(unfenced, "cleanup", "DROP DATABASE IF EXISTS fs_probe")


@pytest.fixture()
def probe_script(unfenced: EmbeddedClickHouse) -> Iterator[tuple[str, Path]]:
    """An executable script where chdb looks for programs (the data directory's user_scripts):
    if it ever ran, it would leave a marker file and print a marker line."""
    scripts = unfenced.path / "user_scripts"
    scripts.mkdir(exist_ok=True)
    marker = unfenced.path / "script_ran"
    script = scripts / "probe.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho SCRIPT-RAN\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.chown(scripts, unfenced.path.stat().st_uid, unfenced.path.stat().st_gid)
    yield "probe.sh", marker
    marker.unlink(missing_ok=True)


PROGRAMS = {
    "executable() table function": ["SELECT * FROM executable('{script}', 'LineAsString', 'a String')"],
    "EXECUTABLE_POOL dictionary + dictGet": [
        "CREATE DICTIONARY IF NOT EXISTS pool_probe (k UInt64, v String) PRIMARY KEY k "
        "SOURCE(EXECUTABLE_POOL(command '{script}' format 'TabSeparated')) LAYOUT(DIRECT())",
        "SELECT dictGet('pool_probe', 'v', toUInt64(1))",
    ],
    "EXECUTABLE dictionary + dictGet": [
        "CREATE DICTIONARY IF NOT EXISTS exec_probe (k UInt64, v String) PRIMARY KEY k "
        "SOURCE(EXECUTABLE(command '{script}' format 'TabSeparated')) LAYOUT(FLAT()) LIFETIME(0)",
        "SELECT dictGet('exec_probe', 'v', toUInt64(1))",
    ],
    "Executable table engine": [
        "CREATE OR REPLACE TABLE exec_engine_probe (a String) ENGINE = Executable('{script}', LineAsString)",
        "SELECT * FROM exec_engine_probe",
    ],
}


@pytest.mark.parametrize("how", sorted(PROGRAMS))
def test_no_program_starts(unfenced: EmbeddedClickHouse, probe_script: tuple[str, Path], how: str) -> None:
    script, marker = probe_script
    before = _engine_processes(unfenced)
    *setup, attack = PROGRAMS[how]
    for sql in setup:
        _ask(unfenced, f"setup for {how}", sql.format(script=script))
    answer = _ask(unfenced, how, attack.format(script=script))
    # an error, or (the Executable engine, which reads the program's output until EOF) no rows
    assert answer.status != 200 or answer.body == b"", answer.text
    assert "SCRIPT-RAN" not in answer.text
    assert not marker.exists(), "the script ran"
    assert _engine_processes(unfenced) == before, "a process was started"


@pytest.fixture()
def listener() -> Iterator[tuple[int, list[tuple[str, int]]]]:
    """A TCP listener on 127.0.0.1 that notes every connection it accepts."""
    accepted: list[tuple[str, int]] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(peer)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(5)
        server.close()


CONNECTIONS = {
    "url()": ["SELECT * FROM url('http://127.0.0.1:{port}/', 'CSV', 'a String')"],
    "remote()": ["SELECT * FROM remote('127.0.0.1:{port}', system.one)"],
    "mysql()": ["SELECT * FROM mysql('127.0.0.1:{port}', 'd', 't', 'u', 'p')"],
    "postgresql()": ["SELECT * FROM postgresql('127.0.0.1:{port}', 'd', 't', 'u', 'p')"],
    "dictionary HTTP source + dictGet": [
        "CREATE OR REPLACE DICTIONARY http_probe (k UInt64, v String) PRIMARY KEY k "
        "SOURCE(HTTP(url 'http://127.0.0.1:{port}/' format 'TabSeparated')) LAYOUT(FLAT()) LIFETIME(0)",
        "SELECT dictGet('http_probe', 'v', toUInt64(1))",
    ],
}


@pytest.mark.parametrize("how", sorted(CONNECTIONS))
def test_no_connection_leaves_the_engine(
    unfenced: EmbeddedClickHouse, listener: tuple[int, list[tuple[str, int]]], how: str
) -> None:
    port, accepted = listener
    *setup, attack = CONNECTIONS[how]
    for sql in setup:
        _ask(unfenced, f"setup for {how}", sql.format(port=port))
    # one HTTP try: without it ClickHouse retries a refused url() for about two minutes
    answer = _ask(unfenced, how, attack.format(port=port), http_max_tries="1")
    assert answer.status != 200, answer.text
    assert accepted == [], f"the listener accepted {accepted}"


WRITES = {
    "INSERT INTO FUNCTION file()": "INSERT INTO FUNCTION file('{out}', 'CSV', 'a UInt8') SELECT 1",
    "File engine table": "CREATE OR REPLACE TABLE file_out_probe (a UInt8) ENGINE = File(CSV, '{out}')",
    "MergeTree on a disk outside": (
        "CREATE TABLE disk_probe (a UInt8) ENGINE = MergeTree ORDER BY a "
        "SETTINGS disk = disk(type = 'local', path = '{out}/')"
    ),
}


@pytest.mark.parametrize("how", sorted(WRITES))
def test_nothing_written_outside_the_data_directory(
    unfenced: EmbeddedClickHouse, tmp_path: Path, how: str
) -> None:
    os.chmod(tmp_path, 0o777)  # even a directory anyone may write to stays out of reach
    out = tmp_path / "written"
    answer = _ask(unfenced, how, WRITES[how].format(out=out))
    if how == "File engine table" and answer.status == 200:
        answer = _ask(unfenced, f"{how} insert", "INSERT INTO file_out_probe VALUES (1)")
    assert answer.status != 200, answer.text
    assert list(tmp_path.iterdir()) == []


def _engine_pythons(server: EmbeddedClickHouse) -> list[int]:
    engines = []
    for pid in _engine_processes(server):
        program, *args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"deploy.local.clickhouse.engine_process" in args and not program.endswith(b"bwrap"):
            engines.append(pid)
    assert engines, "the engine process was not found"
    return engines


def test_engine_process_is_not_root(unfenced: EmbeddedClickHouse) -> None:
    """The test suite runs as root here: the engine process must have left it."""
    assert os.getuid() == 0, "this test needs a suite started as root"
    for pid in _engine_pythons(unfenced):
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        assert "0" not in status["Uid"].split(), f"real/effective/saved/fs uid: {status['Uid']}"
        assert "0" not in status["Gid"].split(), f"real/effective/saved/fs gid: {status['Gid']}"


def test_engine_process_holds_no_secret(unfenced: EmbeddedClickHouse) -> None:
    """The token (also when a client sends it as ?password=) is not in the engine's environment
    or command line, and the front's environment (CALLFLOOR_*) is not passed on."""
    token = _token(unfenced)
    request = build(unfenced.port, "POST", {"password": token}, body=b"SELECT 1")
    assert exchange(unfenced.port, request).status == 200
    for pid in _engine_pythons(unfenced):
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert token.encode() not in environ and b"CALLFLOOR_" not in environ
        names = {v.split(b"=")[0] for v in environ.split(b"\0") if v}
        assert names <= {b"LANG", b"PATH", b"PWD", b"TMPDIR", b"TZ"}, names  # PWD: bubblewrap's
        assert token.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_default_database_is_atomic_and_names_no_file(open_endpoint: Endpoint) -> None:
    """The fenced endpoint users run: ``default`` is Atomic, a path is not a table."""
    engine = call(open_endpoint.port, "SELECT engine FROM system.databases WHERE name = 'default'",
                  open_endpoint.token)  # fmt: skip
    assert engine.status == 200 and engine.text.strip() == "Atomic", engine.text
    answer = record("path as a table name (fenced)",
                    call(open_endpoint.port, "SELECT * FROM `/etc/passwd`", open_endpoint.token))  # fmt: skip
    assert answer.status != 200 and "root:x:0:0" not in answer.text, answer.text


def test_non_loopback_refused_when_a_layer_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without bubblewrap on PATH the namespaces layer is missing: a shared bind is refused,
    naming the layer and what it stops."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap here
    server = EmbeddedClickHouse(tmp_path / "data", host="0.0.0.0", port=0, password="s3cret")
    with pytest.raises(RuntimeError, match="namespaces unavailable.*bubblewrap.*outbound connections"):
        server.start()
    server.stop()
