"""How counts read in the lines people are shown: ``1 record``, ``2 records``.

Every command that prints a count beside a noun (the import summary, the broker's topics)
uses :func:`counted`, so "1 extra legs" cannot come back in one place while fixed in another.
"""

from __future__ import annotations


def counted(count: int, one: str, many: str) -> str:
    """``count`` with the words that agree with it: ``one`` for exactly 1, else ``many``."""
    return f"{count} {one if count == 1 else many}"
