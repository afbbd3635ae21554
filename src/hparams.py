"""TensorBoard HParams tab: each run's settings at its start, its status and final metrics at its end.

Built from tensorboard's protos directly: its v1 `hparams.summary` module imports TensorFlow."""
from __future__ import annotations

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as hp

# result.json fields shown as metrics; logged as `hparams/<name>` scalars at a run's last step.
METRICS = ("final_loss", "median_step_ms", "median_compute_ms", "setup_s")
_STATUS = {"completed": api_pb2.STATUS_SUCCESS, "diverged": api_pb2.STATUS_FAILURE,
           "failed": api_pb2.STATUS_FAILURE, "interrupted": api_pb2.STATUS_RUNNING}


def start_summaries(values: dict) -> list[Summary]:
    """The experiment (which hparams and metrics exist) and this run's values of them."""
    experiment = api_pb2.Experiment(
        hparam_infos=[api_pb2.HParamInfo(name=k, type=_type(v)) for k, v in values.items()],
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=f"hparams/{m}"), display_name=m)
                      for m in METRICS],
    )
    content = plugin_data_pb2.HParamsPluginData(experiment=experiment, version=metadata.PLUGIN_DATA_VERSION)
    meta = metadata.create_summary_metadata(content)
    # Every run writes the same experiment; TensorBoard takes the first it finds.
    return [Summary(value=[Summary.Value(tag=metadata.EXPERIMENT_TAG, metadata=meta)]), hp.hparams_pb(values)]


def _type(value) -> int:
    if isinstance(value, bool):
        return api_pb2.DATA_TYPE_BOOL
    if isinstance(value, (int, float)):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def end_summary(status: str) -> Summary:
    info = plugin_data_pb2.SessionEndInfo(status=_STATUS.get(status, api_pb2.STATUS_UNKNOWN))
    content = plugin_data_pb2.HParamsPluginData(session_end_info=info, version=metadata.PLUGIN_DATA_VERSION)
    meta = metadata.create_summary_metadata(content)
    return Summary(value=[Summary.Value(tag=metadata.SESSION_END_INFO_TAG, metadata=meta)])
