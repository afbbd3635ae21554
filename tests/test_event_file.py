"""The TensorFlow-free event writer (src/event_file.py) writes, byte for byte, what protobuf itself
serializes for the same Event, and frames it as TFRecord does, with either CRC-32C."""
import os
import random
import struct

import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import DataClass, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.types_pb2 import DT_DOUBLE

from src import event_file
from src.event_file import EventFileWriter, iter_records, read_scalars

pytestmark = pytest.mark.unit


def _written(tmp_path, write) -> list[bytes]:
    """The payloads `write(writer)` added after the file's version record."""
    writer = EventFileWriter(str(tmp_path))
    write(writer)
    writer.close()
    first, *payloads = iter_records(str(tmp_path))
    assert Event.FromString(first).file_version == "brain.Event:2"
    return payloads


def _simple(tag: str, v: float) -> Summary.Value:
    return Summary.Value(tag=tag, simple_value=v)


def _double(tag: str, v: float, described: bool) -> Summary.Value:
    value = Summary.Value(tag=tag, tensor=TensorProto(dtype=DT_DOUBLE, tensor_shape=TensorShapeProto(), double_val=[v]))
    if described:
        value.metadata.CopyFrom(SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graphduel"),
                                                data_class=DataClass.DATA_CLASS_SCALAR))
    return value


def test_scalars_are_protobufs_own_bytes(tmp_path):
    values = {"train/loss": 2.5, "time/step_ms": 0.7041, "model/depth": 3.0, "Overview/loss_log10": -4.27}
    (payload,) = _written(tmp_path, lambda w: w.scalars(123456789, values, wall_time=1700000000.25))
    expected = Event(wall_time=1700000000.25, step=123456789,
                     summary=Summary(value=[_simple(k, v) for k, v in values.items()]))
    assert payload == expected.SerializeToString()


def test_values_beyond_float32_are_clamped_as_protobuf_rounds_them(tmp_path):
    """A diverging float64 loss passes float32's range before it is infinite: +-inf, not an error."""
    values = {"a": 1e300, "b": -1e300, "c": float("nan"), "d": 3.0}
    (payload,) = _written(tmp_path, lambda w: w.scalars(5, values, wall_time=1.0))
    expected = Event(wall_time=1.0, step=5, summary=Summary(value=[
        _simple("a", float("inf")), _simple("b", float("-inf")), _simple("c", float("nan")), _simple("d", 3.0)]))
    assert payload == expected.SerializeToString()


def test_float64_values_are_double_tensors_described_once_per_file(tmp_path):
    loss = 0.1 + 2e-17  # a digit float32 cannot hold

    def write(w):
        w.scalars(1, {"train/loss": loss}, wall_time=2.0, doubles={"train/loss_float64": loss})
        w.scalars(2, {"train/loss": loss / 3}, wall_time=3.0, doubles={"train/loss_float64": loss / 3})

    first, second = _written(tmp_path, write)
    assert first == Event(wall_time=2.0, step=1, summary=Summary(value=[
        _simple("train/loss", loss), _double("train/loss_float64", loss, described=True)])).SerializeToString()
    assert second == Event(wall_time=3.0, step=2, summary=Summary(value=[
        _simple("train/loss", loss / 3), _double("train/loss_float64", loss / 3, described=False)])).SerializeToString()
    assert read_scalars(str(tmp_path))["train/loss_float64"] == [(1, loss), (2, loss / 3)]  # to the last digit


def test_the_pure_python_crc_is_crc32c_and_frames_the_same_bytes(tmp_path, monkeypatch):
    assert event_file.crc32c_py(b"123456789") == 0xE3069283  # CRC-32C's check value (RFC 3720)
    rng = random.Random(0)
    blobs = [bytes(rng.randrange(256) for _ in range(n)) for n in (0, 1, 7, 64, 1000)]
    if event_file.crc32c is not event_file.crc32c_py:  # google-crc32c installed: the two agree
        assert [event_file.crc32c(b) for b in blobs] == [event_file.crc32c_py(b) for b in blobs]
    framed = [event_file.frame(b) for b in blobs]
    monkeypatch.setattr(event_file, "crc32c", event_file.crc32c_py)
    assert [event_file.frame(b) for b in blobs] == framed
    # TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
    frame = framed[3]
    (length,) = struct.unpack("<Q", frame[:8])
    assert length == 64 and frame[12:76] == blobs[3] and len(frame) == 8 + 4 + 64 + 4


def test_a_record_cut_short_is_dropped_and_those_before_it_kept(tmp_path):
    writer = EventFileWriter(str(tmp_path))
    for step in (1, 2, 3):
        writer.scalars(step, {"x": float(step)})
    writer.close()
    with open(writer.path, "r+b") as f:  # a kill mid-write: the last record's end is missing
        f.truncate(os.path.getsize(writer.path) - 3)
    assert read_scalars(str(tmp_path))["x"] == [(1, 1.0), (2, 2.0)]
