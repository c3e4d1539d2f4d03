"""Running an import in-process against a sink that keeps what it was given."""

from __future__ import annotations

import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from deploy.local.processes import callfloor_command
from ingest.mapping import IngestMapping, load_mapping
from ingest.run import IngestJob, run_job

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "ingest"


class MemorySink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.letters: list[tuple[str, bytes, dict[str, str]]] = []

    def call(self, rep_id: str, value: bytes) -> None:
        self.calls.append((rep_id, orjson.loads(value)))

    def dead_letter(self, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.letters.append((key, value, {name: raw.decode() for name, raw in headers}))

    def flush(self) -> None:
        return None

    def close(self) -> list[BaseException]:
        return []

    def by_call_id(self) -> dict[str, dict]:
        """The winning (highest version, first received) CDR of each call id, as the pipeline keeps it."""
        kept: dict[str, dict] = {}
        for _, cdr in self.calls:
            seen = kept.get(cdr["call_id"])
            if seen is None or cdr["version"] > seen["version"]:
                kept[cdr["call_id"]] = cdr
        return kept


def ingest(fmt: str, target: Path | str, mapping: str | Path | None = None, zone: str = "Asia/Shanghai",
           sink: MemorySink | None = None, window: int = 2000) -> MemorySink:  # fmt: skip
    sink = sink or MemorySink()
    if isinstance(mapping, str):
        mapping = SAMPLES / "mappings" / mapping
    chosen = load_mapping(mapping) if mapping else IngestMapping()
    job = IngestJob(fmt=fmt, target=str(target), mapping=chosen, zone=ZoneInfo(zone), progress=False,
                    window=window)  # fmt: skip
    run_job(job, sink)
    return sink


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """``callfloor ingest ARGS`` as a user runs it."""
    return subprocess.run(callfloor_command("ingest", *args), input=stdin, capture_output=True, timeout=120)
