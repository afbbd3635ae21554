"""Shared test helpers: compose the real Hydra config, run it, read the real event files back."""
from __future__ import annotations

import os
from pathlib import Path

from src.config import compose_config as compose_cfg

ROOT = Path(__file__).resolve().parents[1]


def train(run_dir, *overrides: str) -> dict:
    from src.run import run

    return run(compose_cfg("trainer.progress_bar=false", *overrides), str(run_dir))


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in the run's event files, as TensorBoard itself reads them (its scalars plugin's
    accumulator)."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return {tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in acc.Tensors(tag)]
            for tag in acc.Tags()["tensors"] if acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"}


def step_tags(run_dir) -> set[str]:
    """The per-step tags (the trial/ ones are a run's final numbers, logged once)."""
    return {tag for tag in scalars(run_dir) if not tag.startswith("trial/")}


def losses(run_dir) -> list[float]:
    return [v for _, v in scalars(run_dir)["train/loss"]]


def env_without_full_error() -> dict:
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def one_line_error(out) -> str:
    """A refusal as a user sees it: one line, `error: ...`, and no traceback; beside it at most the word a
    run says while it imports its framework (a refusal only the framework can make comes after it)."""
    assert "Traceback" not in out.stderr + out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    status = [line for line in lines if line.startswith("graphduel: ") and line.endswith("...")]
    assert len(errors) == 1 and len(errors) + len(status) == len(lines) and len(status) <= 1, out.stderr
    return errors[0]


# -- a real TensorBoard server ---------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, body=None):
    """GET `url` (POST `body` as JSON if given) and the JSON it answers."""
    import json
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


class TensorBoard:
    """`tensorboard --logdir <logdir>` in a subprocess on a free port: its Python loader (load_fast=False)
    or its Rust data server (load_fast=True), up once it lists `runs` runs.  A context manager."""

    def __init__(self, logdir, runs: int, load_fast: bool = False, timeout: float = 180):
        self.logdir, self.runs, self.load_fast, self.timeout = str(logdir), runs, load_fast, timeout

    def __enter__(self) -> TensorBoard:
        import subprocess
        import sys
        import time

        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", self.logdir, "--host", "127.0.0.1",
             "--port", str(port), f"--load_fast={str(self.load_fast).lower()}", "--reload_interval", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if len(self.get("/data/runs")) >= self.runs:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"TensorBoard (load_fast={self.load_fast}) did not list {self.runs} runs of "
                                   f"{self.logdir} within {self.timeout:.0f} s: {self.stderr[-2000:]}")
            time.sleep(0.5)
        time.sleep(2)  # a reload or two more: every file of every run read
        return self

    def get(self, path: str, body=None):
        return http_json(self.url + path, body)

    def get_raw(self, path: str) -> tuple[int, bytes]:
        """(HTTP status, body) of a GET, whatever the status."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            _, self.stderr = self.proc.communicate(timeout=30)
        except Exception:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()
