"""TensorBoard's HParams tab: each run's settings at its start, its status and final metrics at its end.

Built from tensorboard's protos directly (its v1 `hparams.summary` module imports TensorFlow).  Read at a
glance: a row is named by its run (the session's group name is left empty, so TensorBoard uses the run's
name, which carries what a sweep varied), and the columns shown by default are the settings that tell runs
apart.  TensorBoard shows the first five hparams marked `differs` (sorted by name) and the first five
metrics: `differs` marks model, runtime, framework and graph, and whatever the sweep varied."""
from __future__ import annotations

import time

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

# (tag, shown as), in the order the HParams table shows them; the run's last value of each tag is its value.
# train/loss is the run's own loss curve; the others are logged once, at the last step, under trial/.
METRICS = (("train/loss", "final loss"), ("trial/median_step_ms", "ms/step"),
           ("trial/median_steady_ms", "ms/step without builds"), ("trial/compiles", "graph builds"),
           ("trial/compile_s", "build s"), ("trial/setup_s", "setup s"),
           ("trial/median_compute_ms", "compute ms/step"),
           # 1: other work competed for the run's cores while it was timed (src/contention.py), 0: it did not.
           ("trial/contended", "contended"))
ALWAYS_DIFFERS = ("model", "runtime", "framework", "graph")
_STATUS = {"completed": api_pb2.STATUS_SUCCESS, "diverged": api_pb2.STATUS_FAILURE,
           "failed": api_pb2.STATUS_FAILURE, "interrupted": api_pb2.STATUS_RUNNING}


def values(cfg, info: dict, threads: int) -> dict:
    """A run's settings for the HParams tab: what ran (`info`: model, runtime, framework, graph, accelerator,
    seed), the model's options (whatever the model), the trainer's."""
    from omegaconf import OmegaConf

    t = cfg.trainer
    model = {k: v for k, v in _flat(OmegaConf.to_container(cfg.model)).items() if k != "name"}
    return {
        **{k: "" if info.get(k) is None else info[k]
           for k in ("model", "runtime", "framework", "graph", "accelerator", "seed")},
        **{k.split(".")[-1]: "null" if v is None else v for k, v in model.items()},
        "batch_size": cfg.data.batch_size, "max_steps": t.max_steps, "precision": t.precision,
        "threads": threads,
    }


def start_summaries(values: dict, differs: set[str], metrics: tuple[tuple[str, str], ...] = METRICS,
                    experiment: dict | None = None) -> list[Summary]:
    """The experiment (which hparams and `metrics` exist, which to show) and this run's values of them.
    `experiment`: an example value of every hparam of the experiment (a sweep's: every job's), if not
    just this run's."""
    experiment = api_pb2.Experiment(
        hparam_infos=[api_pb2.HParamInfo(name=k, type=_type(v), differs=k in differs)
                      for k, v in (experiment or values).items()],
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=shown)
                      for tag, shown in metrics],
    )
    # Every run of a sweep writes the same experiment, the sweep's (TensorBoard takes the first it finds).
    start = plugin_data_pb2.SessionStartInfo(group_name="", start_time_secs=time.time())
    for k, v in values.items():
        if isinstance(v, bool):
            start.hparams[k].bool_value = v
        elif isinstance(v, (int, float)):
            start.hparams[k].number_value = v
        else:
            start.hparams[k].string_value = str(v)
    return [_summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
            _summary(metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start))]


def end_summary(status: str) -> Summary:
    info = plugin_data_pb2.SessionEndInfo(status=_STATUS.get(status, api_pb2.STATUS_UNKNOWN))
    return _summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=info))


def _summary(tag: str, content) -> Summary:
    content.version = metadata.PLUGIN_DATA_VERSION
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(content))])


def _type(value) -> int:
    if isinstance(value, bool):
        return api_pb2.DATA_TYPE_BOOL
    if isinstance(value, (int, float)):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
