"""A ``callfloor`` command piped into ``head`` (``callfloor report ... | head``, the first thing
a newcomer does with the demo's report) ends quietly when the reader goes away, as ``grep`` or
``cat`` would, instead of printing a ``BrokenPipeError`` traceback."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from benchmarks.ingest import write_master_csv
from deploy.local.processes import callfloor_command


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    master = tmp_path / "Master.csv"
    write_master_csv(master, 3000)  # ~2,000 CDRs: far more than a pipe's buffer holds
    argv = callfloor_command("ingest", "--format", "asterisk-csv", "--dry-run", "--no-progress", str(master))
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as command:
        assert command.stdout is not None and command.stderr is not None
        first = command.stdout.readline()
        command.stdout.close()  # what `| head -1` does after its line
        err = command.stderr.read().decode()
        code = command.wait(60)
    assert first.startswith(b'{"schema_version":1,')
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 128 + signal.SIGPIPE  # what a shell reports for a writer stopped by its reader
