"""ClickHouse's HTTP protocol pieces: errors as ClickHouse words them, request bodies, statements."""

from __future__ import annotations

import email.parser
import email.policy
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import lz4.frame

try:  # zstd ships with clickhouse-connect (backports.zstd)
    from backports import zstd
except ImportError:  # pragma: no cover
    zstd = None  # type: ignore[assignment]  # the module, or None where it is missing

# fmt: off
# HTTP status per ClickHouse error code, as the real server maps them (default 500).
HTTP_STATUS = (dict.fromkeys((6, 27, 36, 47, 62, 115, 457), 400) | dict.fromkeys((46, 60, 81), 404)
               | {48: 501, 164: 403, 497: 403, 516: 401, 1002: 413})
_ERROR_NAMES = {36: "BAD_ARGUMENTS", 48: "NOT_IMPLEMENTED", 62: "SYNTAX_ERROR", 73: "UNKNOWN_FORMAT",
                89: "UNKNOWN_COMPRESSION_METHOD",
                115: "UNKNOWN_SETTING", 164: "READONLY", 271: "CANNOT_DECOMPRESS",
                497: "ACCESS_DENIED", 516: "AUTHENTICATION_FAILED", 1001: "STD_EXCEPTION",
                1002: "REQUEST_TOO_LARGE"}
# fmt: on
RESULT_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN"})
_CODE = re.compile(r"Code: (\d+)\. ")
# The data of `INSERT ... FORMAT X` or `INSERT ... VALUES` starts right after that keyword.
_INSERT_HEAD = re.compile(
    rb"\s*(INSERT\s+INTO\s.*?)\s+(?:FORMAT\s+(\w+)[ \t]*(?:\r?\n)?|(VALUES)\b)", re.I | re.S
)
_FIRST_WORD = re.compile(r"\s*\(*\s*(\w+)")
# In ClickHouse's canonical text (formatQuery) the FORMAT clause is a line of its own, and line
# breaks inside strings and quoted names are escaped: a line reading FORMAT <name> is the clause.
_FORMAT = re.compile(r"^FORMAT ([A-Za-z_][A-Za-z0-9_]*)$", re.M)


class ClickHouseError(Exception):
    """An error to report the way ClickHouse does: `Code: N. DB::Exception: ...`."""

    def __init__(self, code: int, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.code, self.text = code, text
        self.status = status or HTTP_STATUS.get(code, 500)

    @classmethod
    def make(cls, code: int, message: str, status: int | None = None) -> ClickHouseError:
        name = _ERROR_NAMES.get(code, "")
        return cls(code, f"Code: {code}. DB::Exception: {message}. ({name})", status)

    @classmethod
    def from_engine(cls, exc: Exception) -> ClickHouseError:
        """chdb messages already read `Code: N. DB::Exception: ...`, maybe behind a prefix."""
        text = str(exc)
        match = _CODE.search(text)
        if match is None:
            return cls.make(1001, text or type(exc).__name__)
        return cls(int(match.group(1)), text[match.start() :])


def refused(message: str) -> ClickHouseError:
    """What the fence answers: ACCESS_DENIED (403), naming what was refused and why."""
    return ClickHouseError.make(497, f"Refused by the embedded endpoint: {message}")


@dataclass
class Reply:
    """What one query produced, ready to become an HTTP 200 response."""

    body: bytes = b""
    result_format: str | None = None  # set for statements that produce a result set
    summary: dict[str, str] = field(default_factory=dict)
    timezone: str = ""


def quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def too_large(limit: int) -> ClickHouseError:
    return ClickHouseError.make(1002, f"Request body is larger than the limit of {limit} bytes")


def decompress(data: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo the request's Content-Encoding, never inflating past ``limit`` bytes (zip bombs)."""
    enc = (encoding or "identity").strip().lower()
    if enc == "identity" or not data:
        return data
    decoders: dict[str, Callable[[bytes, int], bytes]] = {
        "lz4": _lz4_frames, "gzip": _zlib(16 + zlib.MAX_WBITS), "deflate": _zlib(zlib.MAX_WBITS),
    }  # fmt: skip
    if zstd is not None:
        decoders["zstd"] = _zstd
    if enc not in decoders:
        raise ClickHouseError.make(89, f"Unsupported Content-Encoding: {enc}")
    try:
        out = decoders[enc](data, limit + 1)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the client's bad body
        raise ClickHouseError.make(271, f"Cannot decompress {enc} request body: {exc}") from None
    if len(out) > limit:
        raise too_large(limit)
    return out


def _lz4_frames(data: bytes, limit: int) -> bytes:
    """Decode concatenated lz4 frames: the client compresses every Native block separately."""
    out: list[bytes] = []
    size = 0
    while data and size < limit:
        frame = lz4.frame.LZ4FrameDecompressor()
        out.append(frame.decompress(data, max_length=limit - size))
        size += len(out[-1])
        if not frame.eof and size < limit:
            raise ValueError("truncated lz4 frame")
        data = frame.unused_data or b""
    return b"".join(out)


def _zlib(wbits: int) -> Callable[[bytes, int], bytes]:
    def inflate(data: bytes, limit: int) -> bytes:
        return zlib.decompressobj(wbits).decompress(data, limit)

    return inflate


def _zstd(data: bytes, limit: int) -> bytes:
    return zstd.ZstdDecompressor().decompress(data, max_length=limit)


def form_fields(body: bytes, content_type: str) -> dict[str, str]:
    """multipart/form-data fields (the client uses them when bind parameters are long)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in msg.iter_parts():
        if part.get_filename():
            raise ClickHouseError.make(48, "External data (file parts) is not supported")
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_payload(decode=True) or b"").decode()  # type: ignore[union-attr]  # bytes
    return fields


def split_statement(query: str, body: bytes) -> tuple[str, str | None, bytes]:
    """Return (sql, insert_format, data); insert_format is set for an INSERT that carries data
    (`FORMAT X` or `VALUES` followed by data), which then reaches the engine as data only."""
    head = query.encode() if query else body
    match = _INSERT_HEAD.match(head, 0, 65536)
    if match and not re.search(rb"\bSELECT\b", match.group(1), re.I):
        fmt = match.group(2) or b"Values"
        start = match.start(3) if match.group(3) else match.end()
        data = head[start:] + body if query else body[start:]
        if match.group(3):
            data = data[len(b"VALUES") :]
        return match.group(1).decode(), fmt.decode(), data
    if query:
        return (query + "\n" + body.decode()) if body else query, None, b""
    return body.decode(), None, b""


def result_format(sql: str, default: str) -> str | None:
    """The output format ClickHouse would announce for canonical ``sql``, or None for
    statements without a result set."""
    first = _FIRST_WORD.match(sql)
    if first is None or first.group(1).upper() not in RESULT_KEYWORDS:
        return None
    named = _FORMAT.findall(sql)
    return named[-1] if named else default
