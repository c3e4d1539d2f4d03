"""Why a CDR was rejected: the slow path, run only after the fast decoder has said no.

msgspec stops at the first problem in document order, but a rejection has one reason
ranked by the contract: not JSON, not an object, then the fields in schema order (a wrong
``schema_version`` is the first of them), then unknown fields, then the cross-field
rules. So a rejected message is read again, one field at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from schemas.rejections import CDRRejected, Rejection

T = TypeVar("T", bound=msgspec.Struct)

# jiter (pydantic's reader, the contract's first implementation) refused JSON whose values
# sat inside more than 200 arrays or objects; msgspec goes deeper, then raises RecursionError.
MAX_NESTING = 200
MAX_DETAIL = 500
_ANY_JSON = msgspec.json.Decoder(float_hook=Decimal)  # Decimal: no float overflow on "1e400"
_FIELDS_AS_RAW = msgspec.json.Decoder(dict[str, msgspec.Raw])
_REASONS = {reason.value: reason for reason in Rejection}


class CrossFieldError(ValueError):
    """Raised in a struct's ``__post_init__``; msgspec keeps only the text, so it leads with the reason."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")


def _rejected(reason: Rejection, detail: str) -> CDRRejected:
    return CDRRejected(reason, detail[:MAX_DETAIL])


def _nesting(document: Any) -> int:
    """The most arrays and objects around any one value of a decoded JSON document."""
    deepest, pending = 0, [(document, 0)]
    while pending:
        value, around = pending.pop()
        deepest = max(deepest, around)
        if isinstance(value, dict):
            pending.extend((item, around + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, around + 1) for item in value)
    return deepest


def _cross_field(error: msgspec.ValidationError) -> CDRRejected:
    reason, _, detail = str(error).partition(": ")
    if reason in _REASONS:
        return _rejected(_REASONS[reason], detail)
    return _rejected(Rejection.INVALID_VALUE, f"cdr: {error}")


class Explainer(Generic[T]):
    """Turns a message the struct's decoder refused into its one :class:`CDRRejected`."""

    def __init__(
        self,
        decoder: msgspec.json.Decoder[T],
        struct: type[T],
        reasons: Mapping[str, Rejection],
        check: Callable[[str, Any], tuple[Rejection, str] | None],
    ) -> None:
        """``reasons``: the reason for a value of a field's wrong type, other than invalid_value;
        ``check``: field rules the struct applies in ``__post_init__``, as (reason, problem)
        or None when fine."""
        self.decoder = decoder
        self.reasons = reasons
        self.check = check
        fields = msgspec.structs.fields(struct)
        self.fields = [(f.name, f.required, msgspec.json.Decoder(f.type)) for f in fields]
        self.known = {f.name for f in fields}

    def __call__(self, raw: bytes) -> T:
        """Raise the rejection; return the struct when only a duplicate key misled the decoder
        (the last value of a key wins, as it did in pydantic)."""
        try:
            document = _ANY_JSON.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise _rejected(Rejection.INVALID_JSON, f"cdr: {exc}") from None
        if _nesting(document) > MAX_NESTING:
            raise _rejected(Rejection.INVALID_JSON, f"cdr: nested deeper than {MAX_NESTING}")
        if not isinstance(document, dict):
            kind = type(document).__name__
            raise _rejected(Rejection.NOT_AN_OBJECT, f"cdr: expected an object, got {kind}")
        values = _FIELDS_AS_RAW.decode(raw)
        for name, required, decoder in self.fields:
            if name not in values:
                if required:
                    raise _rejected(Rejection.MISSING_FIELD, f"{name}: field required")
                continue
            try:
                found = self.check(name, decoder.decode(values[name]))
            except msgspec.ValidationError as exc:
                found = self.reasons.get(name, Rejection.INVALID_VALUE), str(exc)
            if found:
                reason, problem = found
                raise _rejected(reason, f"{name}: {problem}")
        for name in values:
            if name not in self.known:
                raise _rejected(Rejection.UNKNOWN_FIELD, f"{name}: not a field of schema v1")
        try:
            return self.decoder.decode(msgspec.json.encode(values))
        except msgspec.ValidationError as exc:
            raise _cross_field(exc) from None
