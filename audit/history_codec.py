"""How a kept history is stored: compressed, checkable, and readable one event at a time.

A `History` protobuf message is nothing but its events one after another (field 1, each prefixed by its
tag and length), so its serialisation can be written and read event by event: `encode` compresses while it
serialises and `iter_events` parses while it decompresses, and neither holds the whole uncompressed history.
The SHA-256 covers the uncompressed bytes and is checked when the last event has been read. Rows kept before
migration 0009_audit hold JSON ('json'); they are read whole, as they always were.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import WorkflowHistory

Encoding = Literal["proto", "json"]

_EVENTS_TAG = b"\x0a"  # field 1 (events), wire type 2 (length-delimited)
_CHUNK = 1 << 16


class StoredHistoryCorrupt(ValueError):
    """A stored history does not match the SHA-256 recorded when it was stored, or cannot be parsed."""


@dataclass(frozen=True)
class EncodedHistory:
    blob: bytes  # zlib-compressed
    sha256: str  # of the uncompressed bytes
    event_count: int


def encode(events: Iterable[HistoryEvent]) -> EncodedHistory:
    """The events as a compressed `History` serialisation, built event by event."""
    compressor = zlib.compressobj(9)
    digest = hashlib.sha256()
    parts: list[bytes] = []
    count = 0
    for event in events:
        data = event.SerializeToString()
        framed = _EVENTS_TAG + _varint(len(data)) + data
        digest.update(framed)
        parts.append(compressor.compress(framed))
        count += 1
    parts.append(compressor.flush())
    return EncodedHistory(b"".join(parts), digest.hexdigest(), count)


def decode(workflow_id: str, blob: bytes, encoding: str, sha256: str, *, where: str) -> WorkflowHistory:
    """The whole history (what the Replayer needs); `where` names the row in errors."""
    try:
        raw = zlib.decompress(blob)
    except zlib.error as exc:
        raise StoredHistoryCorrupt(f"{where}: the stored history cannot be decompressed ({exc})") from exc
    _check(hashlib.sha256(raw).hexdigest(), sha256, where)
    if encoding == "json":
        return WorkflowHistory.from_json(workflow_id, raw.decode("utf-8"))
    history = History()
    try:
        history.ParseFromString(raw)
    except DecodeError as exc:
        raise StoredHistoryCorrupt(f"{where}: the stored history cannot be parsed ({exc})") from exc
    return WorkflowHistory(workflow_id, list(history.events))


def iter_events(blob: bytes, encoding: str, sha256: str, *, where: str) -> Iterator[HistoryEvent]:
    """The events one at a time, decompressing as it goes; raises StoredHistoryCorrupt at the end if the sum differs."""
    if encoding == "json":
        # Rows from before migration 0009_audit: JSON cannot be cut into events without parsing it all.
        yield from decode("", blob, encoding, sha256, where=where).events
        return
    digest = hashlib.sha256()
    buffer = bytearray()
    decompressor = zlib.decompressobj()
    try:
        for start in range(0, len(blob), _CHUNK):
            chunk = decompressor.decompress(blob[start : start + _CHUNK])
            digest.update(chunk)
            buffer += chunk
            yield from _take_events(buffer, where)
        tail = decompressor.flush()
    except zlib.error as exc:
        raise StoredHistoryCorrupt(f"{where}: the stored history cannot be decompressed ({exc})") from exc
    digest.update(tail)
    buffer += tail
    yield from _take_events(buffer, where)
    if buffer:
        raise StoredHistoryCorrupt(f"{where}: the stored history ends inside an event ({len(buffer)} bytes left)")
    _check(digest.hexdigest(), sha256, where)


JSON_HEAD, JSON_TAIL = b'{"events": [', b"]}"


def json_chunks(events: Iterable[HistoryEvent]) -> Iterator[bytes]:
    """The history as JSON (`WorkflowHistory.from_json` and `temporal workflow show --output json` read it), in pieces.

    One event a line, between a first line `{"events": [` and a last line `]}`, so a reader can go line by line.
    """
    yield JSON_HEAD
    for number, event in enumerate(events):
        text = json.dumps(MessageToDict(event), ensure_ascii=False, separators=(",", ":"))
        yield (b",\n" if number else b"\n") + text.encode("utf-8")
    yield b"\n" + JSON_TAIL + b"\n"


def _take_events(buffer: bytearray, where: str) -> Iterator[HistoryEvent]:
    """Parse and remove every complete event at the front of `buffer`."""
    position = 0
    while position < len(buffer):
        if buffer[position : position + 1] != _EVENTS_TAG:
            raise StoredHistoryCorrupt(f"{where}: byte {position} of a chunk is not the start of an event")
        parsed = _read_varint(buffer, position + 1)
        if parsed is None:
            break
        length, body = parsed
        if body + length > len(buffer):
            break
        try:
            yield HistoryEvent.FromString(bytes(buffer[body : body + length]))
        except DecodeError as exc:
            raise StoredHistoryCorrupt(f"{where}: an event cannot be parsed ({exc})") from exc
        position = body + length
    del buffer[:position]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(buffer: bytearray, position: int) -> tuple[int, int] | None:
    """(value, position after it), or None when the buffer ends inside it."""
    value = shift = 0
    while position < len(buffer):
        byte = buffer[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7
    return None


def _check(actual: str, recorded: str, where: str) -> None:
    if actual != recorded:
        raise StoredHistoryCorrupt(f"{where}: stored history hashes to {actual}, but {recorded} was recorded when it was stored")
