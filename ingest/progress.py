"""What an import tells the person running it, on stderr: a progress bar, rejects, a summary.

The bar (tqdm) shows the bytes of the file read, records, records per second and rejects.
Each reject is printed with file, line and reason (the first ``max_printed``; all of them
are in the DLQ). The summary ends the run.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from tqdm import tqdm

from ingest.verdict import DEFAULT_LIMIT, RejectLimit
from schemas.wording import counted


def not_acknowledged(failures: list[BaseException]) -> str:
    """The line that ends an import some of whose records Kafka never acknowledged."""
    lost = counted(len(failures), "record was", "records were")
    return f"callfloor ingest: {lost} not acknowledged by Kafka: {failures[0]!r}"


class Progress:
    def __init__(self, *, total_bytes: int | None, enabled: bool, max_printed: int = 100,
                 out: TextIO | None = None) -> None:  # fmt: skip
        self.out = out or sys.stderr
        self.records = self.calls = self.rejected = 0
        self.reasons: Counter[str] = Counter()
        self.max_printed = max_printed
        self.started = time.monotonic()
        self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, file=self.out, disable=not enabled,
                        mininterval=0.5, desc="ingest", dynamic_ncols=True)  # fmt: skip
        self._bytes = 0
        self.too_many_rejects = False

    def advance(self, bytes_read: int) -> None:
        self.records += 1
        if self.records % 1024 == 0:
            self.refresh(bytes_read)

    def refresh(self, bytes_read: int) -> None:
        self.bar.update(bytes_read - self._bytes)
        self._bytes = bytes_read
        self.bar.set_postfix(records=self.records, rate=f"{self.rate():.0f}/s", rejects=self.rejected,
                             refresh=False)  # fmt: skip

    def rate(self) -> float:
        return self.records / max(time.monotonic() - self.started, 1e-9)

    def reject(self, origin: str, line: int, reason: str, detail: str) -> None:
        self.rejected += 1
        self.reasons[reason] += 1
        if self.rejected <= self.max_printed:
            self.bar.write(f"callfloor ingest: {origin}:{line}: {reason}: {detail}", file=self.out)
        elif self.rejected == self.max_printed + 1:
            self.bar.write("callfloor ingest: more rejects not printed; all are in the DLQ", file=self.out)

    def summary(self, duplicate_legs: int, collapsed_legs: int, limit: RejectLimit = DEFAULT_LIMIT,
                unacknowledged: int = 0) -> str:  # fmt: skip
        """One line that says at once whether the import was good (``OK``/``FAILED``), then each outcome."""
        self.bar.close()
        seconds = time.monotonic() - self.started
        allowed = limit.allowed(self.records)
        self.too_many_rejects = self.rejected > allowed
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.reasons.items()))
        verdict = "FAILED" if self.too_many_rejects or unacknowledged else "OK"
        outcomes = "; ".join((
            counted(self.calls, "call produced", "calls produced"),
            counted(collapsed_legs, "extra leg folded into its call", "extra legs folded into their calls"),
            counted(duplicate_legs, "repeated row skipped", "repeated rows skipped"),
            f"{self.rejected} rejected to the DLQ",
        ))  # fmt: skip
        records = counted(self.records, "record", "records")
        text = (f"callfloor ingest: {verdict}: {records} in {seconds:.1f}s ({self.rate():.0f}/s): {outcomes}"
                + (f" ({reasons})" if reasons else "")
                + (f": more than --max-rejects {limit} allows ({allowed})" if self.too_many_rejects
                   else f", --max-rejects {limit} allows {allowed}")
                + (f"; {unacknowledged} not acknowledged by Kafka" if unacknowledged else ""))  # fmt: skip
        print(text, file=self.out)
        return text
