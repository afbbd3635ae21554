"""Cluster jobs that are preempted, or warned of their time limit, continue where they stopped.

How submitit (1.5.4) and Slurm do it, and what graphduel adds:

- submitit asks Slurm to warn each job before its end: `#SBATCH --signal=USR2@<signal_delay_s>`
  (USR2 unless SUBMITIT_PREEMPT_SIGNAL names another).  Slurm sends it `signal_delay_s` before the
  time limit; a preemption, or `scancel --signal=USR2 <job>`, sends it at once.
- In the job, submitit's handler of that signal calls the task's `checkpoint()`: Hydra's submitit
  launcher returns the same task (the same job's overrides, config and output directory), which
  submitit pickles again, then `scontrol requeue` puts the job back in the queue under the same
  job id, and the process exits.  Slurm starts it again later, and Hydra runs the job again in its
  own directory, from the start, unless the job itself resumes.
- graphduel treats the signal like SIGTERM (src/interrupt.py): the step in flight finishes, the
  run checkpoints and flushes its logs; then `preempted()` hands the signal to submitit's handler,
  which requeues the job.  When the requeued attempt starts, `resume_dir()` finds the directory's
  checkpoint and the run continues from it, as `python train.py resume=<run dir>` would: the
  same losses as an uninterrupted run, each step once in TensorBoard.
- A job that Slurm itself requeues (`scontrol requeue`, or preemption in REQUEUE mode) gets SIGTERM
  instead: it checkpoints and exits 143 as always, and resumes in the same way.

A file in the run directory (JOB_FILE) names the job that ran there, so that only a later attempt
of the same job (Slurm keeps its id across requeues) resumes, never a new sweep that happens to
write into the same directory.
"""
from __future__ import annotations

import json
import os
import signal
import sys

from src import checkpoint

JOB_FILE = "cluster_job.json"


def _submitit():
    """The submitit module in a process that submitit runs as a job; else None (and no import)."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return None
    import submitit

    return submitit


def _job_id() -> str | None:
    """The submitit job this process runs (e.g. Slurm's `123_0`), or None outside submitit."""
    submitit = _submitit()
    return submitit and submitit.JobEnvironment().job_id


def preemption_signal() -> int | None:
    """The signal that warns this submitit job of its end, or None outside a submitit job."""
    submitit = _submitit()
    return submitit and getattr(signal, "SIG" + submitit.JobEnvironment.USR_SIG, None)


def resume_dir(run_dir: str) -> str | None:
    """run_dir if this process is a requeued attempt of the submitit job that ran there before
    and left a checkpoint; else None.  Records this attempt in run_dir either way."""
    job_id = _job_id()
    if job_id is None:
        return None
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, JOB_FILE)
    try:
        with open(path) as f:
            earlier = json.load(f)
    except (OSError, ValueError):
        earlier = {}
    again = earlier.get("job_id") == job_id
    attempt = earlier.get("attempt", 0) + 1 if again else 1
    with open(path + ".tmp", "w") as f:
        json.dump({"job_id": job_id, "attempt": attempt}, f)
    os.replace(path + ".tmp", path)
    if not again:
        return None
    if os.path.exists(os.path.join(run_dir, checkpoint.FILE)):
        print(f"graphduel: job {job_id}, attempt {attempt}: continuing from the checkpoint in {run_dir}",
              file=sys.stderr, flush=True)
        return run_dir
    # The earlier attempt stopped before its first checkpoint: start over, without its logged steps.
    for name in os.listdir(run_dir):
        if name.startswith("events.out.tfevents."):
            os.remove(os.path.join(run_dir, name))
    return None


def preempted(error) -> bool:
    """After a run stopped on `error` (src.interrupt.Interrupted) and checkpointed: if the signal was
    this submitit job's warning, hand it to submitit's handler, which requeues the job and exits
    the process.  Returns True if it was that signal but submitit did not requeue the job (it says
    why: e.g. the job reached its time limit more than hydra.launcher.max_num_timeout times);
    False for any other signal."""
    if error.signum != preemption_signal():
        return False
    handler = signal.getsignal(error.signum)  # submitit's again, now that the run is over
    print(f"graphduel: {error}, checkpoint saved: asking submitit to requeue the job", file=sys.stderr, flush=True)
    if not callable(handler):
        print("graphduel: not requeued: submitit's signal handler is not installed", file=sys.stderr)
        return True
    try:
        handler(error.signum, None)  # requeued: exits (SystemExit)
    except Exception as e:  # submitit's UncompletedJobError: not requeued, and why
        print(f"graphduel: not requeued: {e} (hydra.launcher.max_num_timeout=N lets a job that reaches its "
              "time limit be requeued N times)", file=sys.stderr)
    return True
