"""What makes call, rep, team and campaign ids the same id: one rule, applied before anything counts.

A rep typed as ``"rep-7"``, ``"rep-7\\u200b"`` (zero-width space) and ``"ｒｅｐ－７"``
(full-width, as a CJK input method types it) is one person: counting them apart splits
their pay. So an id is refused when it is blank, padded with whitespace, or holds a
control, format (zero-width, bidi, BOM, soft hyphen), surrogate or line/paragraph
separator character (Unicode categories Cc, Cf, Cs, Zl, Zp). The rest is normalised with
NFKC, not only NFC: NFKC includes NFC (composed and decomposed accents agree) and also
folds compatibility forms - full-width and half-width letters, digits and punctuation,
ligatures, circled and super/subscript digits - into their plain forms. Two ids that
differ only by such a form are look-alikes on a screen, never two different reps.
Python normalises its own identifiers the same way (PEP 3131).
"""

from __future__ import annotations

import unicodedata

MAX_ID_LENGTH = 128
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class IdentifierError(ValueError):
    """What is wrong with an id, in words for the dead letter's detail."""


def normalised_id(value: str) -> str:
    """The id as it is stored and counted; raises :class:`IdentifierError` when refused.

    Printable ASCII without edge spaces (every real dialer's ids) is already NFKC and is
    returned as it is after two C-level scans; only other ids pay for the Unicode work.
    """
    if value.isascii() and value.isprintable() and value[0] != " " and value[-1] != " ":
        return value
    for char in value:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            raise IdentifierError(f"holds invisible or control character U+{ord(char):04X}")
    normal = unicodedata.normalize("NFKC", value)
    if not normal or normal.isspace():
        raise IdentifierError("blank (whitespace only)")
    if normal[0].isspace() or normal[-1].isspace():
        raise IdentifierError("leading or trailing whitespace")
    if len(normal) > MAX_ID_LENGTH:
        raise IdentifierError(f"longer than {MAX_ID_LENGTH} characters once normalised (NFKC)")
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in normal):
        raise IdentifierError("normalises (NFKC) to an invisible or control character")
    return normal
