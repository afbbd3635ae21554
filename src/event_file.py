"""A TensorBoard event file writer that never imports TensorFlow.

torch's SummaryWriter and tensorboard's own EventFileWriter reach `tensorboard.compat.tf`, which
imports all of TensorFlow whenever it is installed: seconds and hundreds of MB in a PyTorch run.
The format is small: TFRecord frames (length, masked CRC-32C, payload, masked CRC-32C) around
`Event` protocol buffers, which tensorboard ships as plain generated protobuf modules.
"""
from __future__ import annotations

import functools
import itertools
import os
import socket
import struct
import time

from tensorboard.compat.proto.event_pb2 import Event


try:  # C implementation, far faster than the pure-Python loop below (docs/measurements.md#event-file)
    from google_crc32c import value as crc32c
except ImportError:  # pragma: no cover
    crc32c = None


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c_py(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


if crc32c is None:  # pragma: no cover
    crc32c = crc32c_py


def _masked(data: bytes) -> bytes:
    crc = crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def frame(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + _masked(header) + payload + _masked(payload)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


@functools.lru_cache(maxsize=None)
def _value_prefix(tag: str) -> bytes:
    # Summary.value (field 1) holding Value{tag (field 1), simple_value (field 2, float32)}:
    # everything but the 4 bytes of the float is fixed per tag.
    raw = tag.encode()
    tag_field = b"\x0a" + _varint(len(raw)) + raw
    return b"\x0a" + _varint(len(tag_field) + 5) + tag_field + b"\x15"


_FLOAT = struct.Struct("<f")


@functools.lru_cache(maxsize=64)
def _layout(tags: tuple[str, ...]) -> tuple[struct.Struct, list[bytes]]:
    """For a step's tags, in order: a Struct packing each tag's fixed prefix and its float32 in one call."""
    prefixes = [_value_prefix(tag) for tag in tags]
    return struct.Struct("<" + "".join(f"{len(p)}sf" for p in prefixes)), prefixes
_DOUBLE = struct.Struct("<d")
_FLOAT32_MAX = 3.4028234663852886e38


def _pack_float32(v: float) -> bytes:
    """float32, as TensorBoard's simple values are; a float64 value beyond its range becomes +-inf (struct
    would refuse it, and a diverging float64 loss gets there before it is infinite)."""
    if abs(v) > _FLOAT32_MAX and v == v:
        v = float("inf") if v > 0 else float("-inf")
    return _FLOAT.pack(v)


@functools.lru_cache(maxsize=None)
def _double_prefix(tag: str, with_metadata: bool) -> tuple[bytes, bytes]:
    """Summary.value holding Value{tag, tensor: a float64 scalar (DT_DOUBLE, one double_val)} and, the first
    time a file holds the tag, metadata naming graphduel's own plugin: the bytes before the 8 bytes of the
    double, and after them.  TensorBoard's default (Rust) loader shows no float64 scalars, so these are
    kept for graphduel's readers (the parity tools) and out of the dashboards, which show the float32 twin."""
    raw = tag.encode()
    tag_field = b"\x0a" + _varint(len(raw)) + raw
    tensor = b"\x08\x02" + b"\x12\x00" + b"\x32\x08"  # dtype DT_DOUBLE, shape [], packed double_val: 8 bytes
    meta = b""
    if with_metadata:  # SummaryMetadata{plugin_data{plugin_name: "graphduel"}, data_class: DATA_CLASS_SCALAR}
        plugin = b"\x0a\x09graphduel"
        meta_body = b"\x0a" + _varint(len(plugin)) + plugin + b"\x20\x01"
        meta = b"\x4a" + _varint(len(meta_body)) + meta_body
    body_len = len(tag_field) + 1 + 1 + len(tensor) + 8 + len(meta)
    return (b"\x0a" + _varint(body_len) + tag_field + b"\x42" + _varint(len(tensor) + 8) + tensor, meta)


# Encoded by hand: building these messages with protobuf costs several times more (docs/measurements.md#event-file).
class EventFileWriter:
    """Appends events to one `events.out.tfevents.*` file in `logdir`: a new one, or `path` (a resumed run's).

    Events are buffered here and written to the OS at flush(), so that the file always ends on a whole record:
    a write that fails (a full disk) is cut back to the last one, and this writer then writes nothing more."""

    def __init__(self, logdir: str, path: str | None = None):
        os.makedirs(logdir, exist_ok=True)
        self._buf = bytearray()
        self.broken = False  # a write failed: the file holds the records before it, and nothing more is written
        self._described: set[str] = set()  # float64 tags whose metadata this file already holds
        if path is not None:  # go on appending to a run's file (a resumed run: src/recorder.py)
            self.path = path
            self._fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            self.size = os.lseek(self._fd, 0, os.SEEK_END)
            return
        self.path = os.path.join(logdir, file_name())
        from src.owner import writing

        with writing(self.path, "the TensorBoard event file"):  # a full disk: no room for one more file
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        self.size = 0  # bytes in the file: whole records only
        self.write(version_event())
        self.flush()

    def write(self, event: Event) -> None:
        self._buf += frame(event.SerializeToString())

    def write_payload(self, payload: bytes) -> None:
        """A serialized Event, as read back by iter_records."""
        self._buf += frame(payload)

    def scalars(self, step: int, values: dict[str, float], wall_time: float | None = None,
                doubles: dict[str, float] | None = None) -> None:
        """One event holding every value of a step (same bytes as Event(summary=Summary(...))): `values` as
        float32 simple values, `doubles` as float64 scalar tensors (a float64 run's loss, to the last digit:
        see _double_prefix)."""
        layout, prefixes = _layout(tuple(values))
        try:  # one C call for every value of the step (docs/measurements.md#event-file)
            parts = [layout.pack(*itertools.chain.from_iterable(zip(prefixes, values.values())))]
        except (struct.error, OverflowError):  # a value beyond float32 (a diverging float64 loss): clamp it
            parts = [_value_prefix(tag) + _pack_float32(v) for tag, v in values.items()]
        for tag, v in (doubles or {}).items():
            before, after = _double_prefix(tag, tag not in self._described)
            self._described.add(tag)
            parts.append(before + _DOUBLE.pack(v) + after)
        summary = b"".join(parts)
        payload = (b"\x09" + struct.pack("<d", time.time() if wall_time is None else wall_time)
                   + b"\x10" + _varint(step) + b"\x2a" + _varint(len(summary)) + summary)
        self._buf += frame(payload)

    def flush(self) -> None:
        # To the OS, which keeps it if the process dies; no fsync here: it costs milliseconds,
        # a visible spike in a sub-millisecond step.
        if self.broken or not self._buf:
            self._buf.clear()
            return
        from src.owner import DiskFull, is_full

        view, done = memoryview(self._buf), 0
        try:
            while done < len(view):
                done += os.write(self._fd, view[done:])
        except OSError as e:
            view.release()
            self.abandon()
            if is_full(e):
                raise DiskFull(self.path, e, "the TensorBoard event file") from None
            raise
        view.release()
        self.size += done
        self._buf.clear()

    def abandon(self) -> None:
        """Writes nothing more: the file is cut back to its last whole record, what is buffered dropped."""
        self.broken = True
        self._buf.clear()
        try:
            os.ftruncate(self._fd, self.size)
            os.lseek(self._fd, self.size, os.SEEK_SET)
        except OSError:
            pass

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.flush()
            if not self.broken:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None


def file_name() -> str:
    return f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}.{os.getpid()}"


def version_event() -> Event:
    return Event(wall_time=time.time(), file_version="brain.Event:2")


def iter_records(logdir: str):
    """The payload of every record in the event files directly in `logdir`, in file order.

    Read without tensorboard's EventAccumulator, which would import TensorFlow."""
    for name in sorted(os.listdir(logdir)):
        if not name.startswith("events.out.tfevents."):
            continue
        with open(os.path.join(logdir, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, pos)
            end = pos + 12 + length + 4
            if end > len(data):
                break  # a record cut short by an interruption: keep what came before it
            yield data[pos + 12:pos + 12 + length]
            pos = end


def scalar_values(event: Event) -> dict[str, float]:
    """The scalars of one event by tag: float32 simple values, and float64 or float32 scalar tensors."""
    out = {}
    for v in event.summary.value:
        kind = v.WhichOneof("value")
        if kind == "simple_value":
            out[v.tag] = v.simple_value
        elif kind == "tensor" and not v.tensor.tensor_shape.dim and (v.tensor.double_val or v.tensor.float_val):
            out[v.tag] = (v.tensor.double_val or v.tensor.float_val)[0]
    return out


def read_scalars(logdir: str) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files directly in `logdir`, by tag, in file order."""
    out: dict[str, list[tuple[int, float]]] = {}
    for payload in iter_records(logdir):
        event = Event.FromString(payload)
        for tag, value in scalar_values(event).items():
            out.setdefault(tag, []).append((event.step, value))
    return out
