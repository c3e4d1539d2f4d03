"""``--follow`` on a real file that grows, has a half-written line, is rotated and truncated."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.follow import follow_lines
from ingest.mapping import load_mapping
from ingest.run import IngestJob, run_job
from tests.support.waiting import wait_for
from tests.unit.ingest_helpers import SAMPLES, MemorySink

ROWS = (SAMPLES / "asterisk" / "Master.csv").read_text().splitlines(keepends=True)


def append(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def test_follow_lines_waits_for_whole_lines_and_follows_a_rename_rotation(tmp_path: Path) -> None:
    path, stop, got = tmp_path / "Master.csv", threading.Event(), []
    path.write_text("a\n")

    def read() -> None:
        got.extend(follow_lines(path, stop, poll_seconds=0.02))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        append(path, "b-first-half")
        wait_for(lambda: got == [(1, b"a\n")], 20, "the first line", every_s=0.05)
        time.sleep(0.1)
        assert got == [(1, b"a\n")], "half a line must wait for its newline"
        append(path, "-second-half\n")
        wait_for(lambda: len(got) == 2, 20, "the completed line", every_s=0.05)
        append(path, "c-written-just-before-rotation\n")
        path.rename(tmp_path / "Master.csv.1")
        path.write_text("d\n")
        wait_for(lambda: len(got) == 4, 20, "the rotated file's last line and the new file", every_s=0.05)
        path.write_text("")  # copytruncate: emptied in place, then written again
        time.sleep(0.2)
        append(path, "e\n")
        wait_for(lambda: len(got) == 5, 20, "the truncated file read again", every_s=0.05)
    finally:
        stop.set()
        reader.join(10)
    assert got == [(1, b"a\n"), (2, b"b-first-half-second-half\n"), (3, b"c-written-just-before-rotation\n"),
                   (1, b"d\n"), (1, b"e\n")]  # fmt: skip
    assert not reader.is_alive()


def test_following_an_asterisk_file_across_rotation_counts_each_call_once(tmp_path: Path) -> None:
    path, stop, sink = tmp_path / "Master.csv", threading.Event(), MemorySink()
    path.write_text("".join(ROWS[:3]))  # call 1, call 2, the first leg of the parallel call
    mapping = load_mapping(SAMPLES / "mappings" / "asterisk.yaml")
    job = IngestJob(fmt="asterisk-csv", target=str(path), mapping=mapping, zone=ZoneInfo("Asia/Shanghai"),
                    follow=True, progress=False)  # fmt: skip
    runner = threading.Thread(target=run_job, args=(job, sink), kwargs={"stop": stop})
    runner.start()
    try:
        wait_for(
            lambda: len(sink.by_call_id()) == 3,
            20,
            "the first three calls after a quiet second",
            every_s=0.05,
        )
        append(path, ROWS[3])  # the parallel call's answered leg, after its call was sent
        os.rename(path, tmp_path / "Master.csv.1")
        path.write_text("".join(ROWS[1:3] + ROWS[4:6]))  # the new file repeats two old rows
        wait_for(lambda: len(sink.by_call_id()) == 5, 20, "the calls of the new file", every_s=0.05)
        wait_for(
            lambda: sink.by_call_id()["ast-1762045800.5"]["version"] == 26,
            20,
            "the corrected call",
            every_s=0.05,
        )
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
    calls = sink.by_call_id()
    assert set(calls) == {"ast-1762045200.1", "ast-1762045500.3", "ast-1762045800.5", "ast-1762046400.8",
                          "ast-1762047000.10"}  # fmt: skip
    assert calls["ast-1762045800.5"]["disposition"] == "answered"
    assert sink.letters == []
