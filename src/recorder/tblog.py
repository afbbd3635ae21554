"""The run's TensorBoard log: its event file, each step's scalars, the graphs for the Graphs tab and the
HParams tab's start and end.  Written without TensorFlow (src/event_file.py); nothing is written, and no
file made, while disabled (a DDP run's other ranks, Recorder(enabled=False))."""
from __future__ import annotations

import time

from tensorboard.compat.proto.event_pb2 import Event

from src import hparams
from src.event_file import EventFileWriter


class TBLog:
    def __init__(self, run_dir: str, enabled: bool = True):
        self.run_dir, self.enabled = run_dir, enabled
        self._events: EventFileWriter | None = None

    def _writer(self) -> EventFileWriter:
        if self._events is None:
            self._events = EventFileWriter(self.run_dir)
        return self._events

    def scalars(self, step: int, values: dict[str, float], doubles: dict[str, float] | None = None) -> None:
        """One event holding every value of a step: float32 simple values, `doubles` as float64 tensors."""
        if self.enabled:
            self._writer().scalars(step, values, doubles=doubles)

    def append_to(self, path: str) -> None:
        """Go on writing at the end of `path`: a resumed run's event file, holding its kept steps."""
        if self.enabled:
            self._events = EventFileWriter(self.run_dir, path=path)

    def abandon(self) -> None:
        """The disk is full: write no more (the file keeps its whole records)."""
        if self._events is not None:
            self._events.abandon()

    @property
    def size(self) -> int:
        """Bytes in the event file, whole records."""
        return self._events.size if self._events is not None else 0

    def graph(self, graph_def_bytes: bytes, tag: str | None = None, step: int = 0) -> None:
        """A serialized GraphDef for the Graphs tab: the run's graph, or with a `tag` one more graph the
        tab's Tag menu offers (as TensorFlow's trace export writes it: a RunMetadata's function graph)."""
        if not self.enabled:
            return
        if tag is None:
            self._writer().write(Event(wall_time=time.time(), graph_def=graph_def_bytes))
            return
        from tensorboard.compat.proto.config_pb2 import RunMetadata
        from tensorboard.compat.proto.graph_pb2 import GraphDef
        from tensorboard.compat.proto.summary_pb2 import DataClass, Summary, SummaryMetadata
        from tensorboard.compat.proto.tensor_pb2 import TensorProto
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboard.compat.proto.types_pb2 import DT_STRING

        run_metadata = RunMetadata()
        run_metadata.function_graphs.add().pre_optimization_graph.CopyFrom(GraphDef.FromString(graph_def_bytes))
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graph_run_metadata_graph",
                                                                      content=b"1"),
                               data_class=DataClass.DATA_CLASS_BLOB_SEQUENCE)
        # Shape [1], as tf.summary's graph writer makes it: TensorBoard's Python loader serves a blob
        # sequence of rank 1 only (its data migration adds the dimension only to what tf.summary wrote).
        tensor = TensorProto(dtype=DT_STRING, tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
                             string_val=[run_metadata.SerializeToString()])
        self._writer().write(Event(wall_time=time.time(), step=step,
                                   summary=Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=tensor)])))

    def hparams_start(self, values: dict, differs: set[str], metrics: tuple[tuple[str, str], ...],
                      experiment: dict | None = None) -> None:
        """The HParams tab's experiment (its hparams and `metrics`, (tag, shown as)) and this run's values."""
        if not self.enabled:
            return
        for summary in hparams.start_summaries(values, differs, metrics, experiment):
            self._writer().write(Event(wall_time=time.time(), summary=summary))

    def hparams_end(self, step: int, metric_values: dict[str, float], status: str) -> None:
        """The run's final numbers, as scalars at its last step (the HParams tab takes a metric's last value),
        and its status; only into a log already begun (a run refused at its start writes no event file)."""
        if self._events is None:
            return
        if metric_values:
            self._writer().scalars(step, metric_values)
        self._writer().write(Event(wall_time=time.time(), summary=hparams.end_summary(status)))

    def flush(self) -> None:
        if self._events is not None:
            self._events.flush()

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
