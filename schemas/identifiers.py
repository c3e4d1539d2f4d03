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

import re
import unicodedata

MAX_ID_LENGTH = 128
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Every code point of those categories in Python 3.11's Unicode (14.0), as one class that the
# regex engine scans in C; tests/unit/test_cdr_meaning.py checks it against unicodedata.
REFUSED = re.compile(
    r"[\x00-\x1F\x7F-\x9F\xAD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u180E"
    r"\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uD800-\uDFFF\uFEFF\uFFF9-\uFFFB"
    r"\U000110BD\U000110CD\U00013430-\U00013438\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A"
    r"\U000E0001\U000E0020-\U000E007F]"
)


class IdentifierError(ValueError):
    """What is wrong with an id, in words for the dead letter's detail."""


def normalised_id(value: str) -> str:
    """The id as it is stored and counted; raises :class:`IdentifierError` when refused.

    Printable ASCII without edge spaces (every real dialer's ids) is already NFKC and is
    returned as it is; only other ids pay for normalising. The checks run on the normalised
    id, which is what is stored (NFKC keeps every refused character as it is).
    """
    if value.isascii() and value.isprintable() and value[0] != " " and value[-1] != " ":
        return value
    normal = unicodedata.normalize("NFKC", value)
    if refused := REFUSED.search(normal):
        raise IdentifierError(f"holds invisible or control character U+{ord(refused.group()):04X}")
    if not normal or normal.isspace():
        raise IdentifierError("blank (whitespace only)")
    if normal[0].isspace() or normal[-1].isspace():
        raise IdentifierError("leading or trailing whitespace")
    if len(normal) > MAX_ID_LENGTH:
        raise IdentifierError(f"longer than {MAX_ID_LENGTH} characters once normalised (NFKC)")
    return normal
