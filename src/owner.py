"""One owner per run directory, and a full disk that ends a run in one line, never in a lost or mixed-up run.

- The owner: a run (or a resume) holds `<run dir>/.graphduel.lock` with `fcntl.flock(LOCK_EX)` for as long as it
  lives.  The kernel drops the lock when the process dies, however it dies (kill -9 included), so a lock is
  never stale; the file names the owner (pid, host, start time) for the refusal another command gets.  On
  release the owner removes the file (then closes it): a later command that opened the removed file notices
  that the path no longer names it, and takes the lock on a new file.  In the owner's process the file is
  opened once and never again: where flock is emulated by POSIX locks (NFS), closing any descriptor of the
  file would drop the lock.  docs/runs.md says what holds on shared filesystems.
- The reserve: the lock file also holds RESERVE bytes (random, so no filesystem compresses them away).  When a
  write fails because the disk is full, the run frees them, so that result.json can still say `failed`, and
  why, in one line with what the run needs to finish.
- Every write of a run goes through `writing()` or `Staged`: a full disk (ENOSPC, or EDQUOT for a quota)
  becomes DiskFull with the temp files removed, never a chained OSError traceback or a `.tmp` left behind.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Self

from src.errors import ConfigError, GraphduelError

LOCK_FILE = ".graphduel.lock"
RESERVE = 64 * 1024  # freed when the disk is full: result.json (a few KiB) can then still be written
RESULT_BYTES = 16 * 1024  # what result.json and its temp copy take, at most, for the estimates
FULL = (errno.ENOSPC, errno.EDQUOT)
# Files that mean a directory holds a run: what a run's steps left (the lock, a cluster job's note, and a .hydra/
# without them, as a continued sweep leaves a job it starts again, do not).
RUN_FILES = ("result.json", "checkpoint.npz")
EVENTS_PREFIX = "events.out.tfevents."


class Refused(ConfigError):
    """The run directory is someone else's, holds another run, or has no room: nothing was written."""


class DiskFull(GraphduelError):
    """A write failed because the filesystem (or the user's quota on it) is full."""

    exit_code = 1

    def __init__(self, path: str, err: OSError, what: str):
        self.path, self.errno, self.what = path, err.errno, what
        super().__init__(f"{full_text(path, err.errno)} while writing {what}")

    def explain(self, needs: str) -> None:
        """Adds what the run needs to finish, and how to continue it, to the one line."""
        self.args = (f"{self.args[0]}: {needs}",)


def is_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in FULL


def _remove(*paths: str) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            os.remove(p)


@contextlib.contextmanager
def writing(path: str, what: str, *tmp: str):
    """Around a write of `path`: on any error the temp files `tmp` are removed; a full disk raises DiskFull."""
    try:
        yield
    except OSError as e:
        _remove(*tmp)
        if is_full(e):
            raise DiskFull(path, e, what) from None
        raise
    except BaseException:
        _remove(*tmp)
        raise


class Staged:
    """Files written under temp names, then renamed into place together: a failure before the renames (a full
    disk, say) removes the temp files and leaves every file as it was."""

    def __init__(self, what: str):
        self.what = what
        self.pending: list[tuple[str, str]] = []

    def write(self, path: str, content: bytes | str | Callable, tmp: str | None = None) -> str:
        """Writes `content` (bytes, text, or a function given the open binary file) to a temp file for
        `path`; returns the temp file's path."""
        tmp = tmp or path + ".tmp"
        self.pending.append((tmp, path))
        with writing(path, self.what, *self.temps()), open(tmp, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())  # renamed over the only copy: it must be on disk first
        return tmp

    def temps(self) -> list[str]:
        return [tmp for tmp, _ in self.pending]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is not None:
            _remove(*self.temps())
            if is_full(exc):
                raise DiskFull(self.pending[-1][1] if self.pending else ".", exc, self.what) from None
            return
        with writing(self.pending[-1][1] if self.pending else ".", self.what, *self.temps()):
            for tmp, path in self.pending:
                os.replace(tmp, path)


# -- sizes and filesystems ------------------------------------------------------------------------
def size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _existing(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)
    return path


def filesystem(path: str) -> str:
    """'the tmpfs at /mnt/small': the filesystem holding `path`, by its mount point and type."""
    p = os.path.realpath(_existing(path))
    dev = os.stat(p).st_dev
    while p != os.path.dirname(p) and os.stat(os.path.dirname(p)).st_dev == dev:
        p = os.path.dirname(p)
    kind = "filesystem"
    with contextlib.suppress(OSError), open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[1].replace("\\040", " ") == p:
                kind = f"{fields[2]} filesystem"  # the last mount there is the one in use
    return f"the {kind} at {p}"


def free_bytes(path: str) -> tuple[int, int]:
    """(bytes free to this user, total bytes) on the filesystem holding `path`."""
    st = os.statvfs(_existing(path))
    return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


def full_text(path: str, err: int | None) -> str:
    where = filesystem(path)
    free, total = free_bytes(path)
    if err == errno.EDQUOT:
        return f"the disk quota on {where} is used up"
    return f"{where} is full ({size_text(free)} free of {size_text(total)})"


def needs(per_step: float, done: int, max_steps: int, kept: float, logged: float, ckpt: float) -> int:
    """The free bytes a run needs to go on from its checkpoint at step `done` to `max_steps`: its event file
    rewritten with the `kept` bytes up to the checkpoint (beside the `logged` bytes of the old one, freed after),
    then `per_step` bytes a step, a checkpoint written beside the old one, result.json, and the lock's reserve."""
    growth = per_step * max(max_steps - done, 0) + ckpt - (logged - kept)
    return int(max(kept, growth) + RESULT_BYTES + RESERVE + 4096)


def needs_text(per_step: float, done: int, max_steps: int, ckpt: float, need: int) -> str:
    return (f"it needs about {size_text(need)} free to go on from step {done} to {max_steps} "
            f"({size_text(per_step)} per step x {max(max_steps - done, 0)} steps + {size_text(ckpt)} "
            f"for its checkpoint)")


def resume_needs(run_dir: str, done: int, max_steps: int) -> tuple[int, str]:
    """What resuming `run_dir` from its checkpoint at step `done` needs, read from its files: (bytes, why)."""
    from tensorboard.compat.proto.event_pb2 import Event

    from src.event_file import iter_records, scalar_values

    kept = logged = 0
    for payload in iter_records(run_dir):
        size = len(payload) + 16  # its frame: length, two checksums
        logged += size
        event = Event.FromString(payload)
        values = scalar_values(event)
        if 0 <= event.step <= done and ("train/loss" in values or "graph/compiles" in values):
            kept += size
    per_step = kept / max(done, 1)
    ckpt = _size(os.path.join(run_dir, "checkpoint.npz"))
    need = needs(per_step, done, max_steps, kept, logged, ckpt)
    return need, needs_text(per_step, done, max_steps, ckpt, need)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# -- the owner ------------------------------------------------------------------------------------
def resume_word(run_dir: str) -> str:
    """`resume=<run_dir>` as one word that pastes into bash and Hydra reads back (src/shell.py)."""
    from src.shell import override_word

    return override_word("resume", run_dir)


def resume_command(run_dir: str) -> str:
    """The command that continues the run in `run_dir`, as train.py prints it."""
    from src.shell import bash_word

    script = sys.argv[0] if sys.argv[0].endswith("train.py") else \
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train.py")
    return f"python {bash_word(script)} {resume_word(run_dir)}"


def _owner_text(raw: bytes) -> str:
    try:
        info = json.loads(raw.split(b"\n", 1)[0])
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(info["started"]))
        return f"pid {info['pid']} on {info['host']}, started {started}"
    except (ValueError, KeyError, TypeError, OverflowError):
        return "a process that is just starting"


def _busy(run_dir: str, fd: int, resume: bool) -> Refused:
    who = _owner_text(os.pread(fd, 4096, 0))
    pid = who.split()[1] if who.startswith("pid ") else None
    stop = f"stop it (kill -INT {pid}, on its host) and " if pid else "stop it and "
    if resume:
        return Refused(f"resume={run_dir}: that run is still running ({who}): let it finish, or {stop}"
                       "resume it then.")
    return Refused(f"{run_dir} is in use by another graphduel run ({who}): give this run another directory "
                   f"(hydra.run.dir=...), or {stop}continue it later with {resume_word(run_dir)}.")


def probe(run_dir: str, resume: bool = True) -> None:
    """Refuses (Refused) if a live process owns `run_dir`; takes nothing and writes nothing."""
    try:
        fd = os.open(os.path.join(run_dir, LOCK_FILE), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # no lock file: nobody owns it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(run_dir, fd, resume) from None
    except OSError:
        pass  # no locks on this filesystem: see Owner.acquire
    finally:
        os.close(fd)


def _requeued_here(run_dir: str) -> bool:
    """True in a later attempt of the cluster job that ran in `run_dir` before (src/requeue.py)."""
    from src import requeue

    job = requeue._job_id()
    try:
        with open(os.path.join(run_dir, requeue.JOB_FILE)) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return False
    return job is not None and info.get("job_id") == job and info.get("attempt", 1) > 1


def holds_run(run_dir: str) -> bool:
    try:
        names = os.listdir(run_dir)
    except OSError:
        return False
    return any(n in RUN_FILES or n.startswith(EVENTS_PREFIX) for n in names)


def refuse_if_holds_run(run_dir: str, sweep: bool = False) -> None:
    """A new run (a sweep's job, if `sweep`) never writes over another run's files."""
    if not holds_run(run_dir) or _requeued_here(run_dir):
        return
    what = "a run"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        with open(os.path.join(run_dir, "result.json")) as f:
            r = json.load(f)
        what = f"a run ({r['model']} on {r['runtime']}, {r['status']} after {r['steps']} steps)"
        if r["status"] == "running":  # and no one holds it: killed, or its machine went down
            what = f"a run ({r['model']} on {r['runtime']}) that stopped without finishing{_checkpoint_at(run_dir)}"
    elsewhere = "another hydra.sweep.dir=..., or none for a new one under multirun/" if sweep else \
        "another hydra.run.dir=..., or none for a new one under outputs/"
    raise Refused(f"{run_dir} already holds {what}, which a new run would overwrite: continue it with "
                  f"{resume_word(run_dir)} (and trainer.max_steps=N for more steps), or give the new run another "
                  f"directory ({elsewhere}).")


def _checkpoint_at(run_dir: str) -> str:
    import numpy as np

    try:
        with np.load(os.path.join(run_dir, "checkpoint.npz")) as f:
            return f", its checkpoint at step {int(f['step'])}"
    except Exception:  # none, or damaged: resume= says which
        return ""


class Owner:
    """This process's hold on a run directory (see the module's docstring)."""

    def __init__(self, run_dir: str, fd: int | None, path: str, line: bytes):
        self.run_dir, self.fd, self.path, self.line = run_dir, fd, path, line

    @classmethod
    def acquire(cls, run_dir: str, resume: bool = False) -> Owner:
        """Takes `run_dir`, or refuses (Refused, nothing written) if a live process holds it."""
        run_dir = os.path.abspath(run_dir)
        path = os.path.join(run_dir, LOCK_FILE)
        try:
            os.makedirs(run_dir, exist_ok=True)
        except OSError as e:
            if is_full(e):
                raise Refused(f"cannot create {run_dir}: {full_text(run_dir, e.errno)}.") from None
            raise
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as e:
                if is_full(e):
                    raise Refused(f"{run_dir}: {full_text(run_dir, e.errno)}: free some space first.") from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                err = _busy(run_dir, fd, resume)
                os.close(fd)
                raise err from None
            except OSError as e:  # ENOLCK, ENOSYS, EOPNOTSUPP: a filesystem without locks (docs/runs.md)
                print(f"graphduel: warning: {filesystem(run_dir)} cannot lock {path} ({os.strerror(e.errno)}): "
                      "nothing stops a second run from writing into this directory.", file=sys.stderr)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # its owner removed the file while we waited for it: take the new one
        line = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                           "argv": sys.argv}).encode() + b"\n"
        owner = cls(run_dir, fd, path, line)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, line, 0)
        except OSError as e:
            owner.release()
            if is_full(e):
                raise Refused(f"{run_dir}: {full_text(run_dir, e.errno)}: free some space first.") from None
            raise
        return owner

    def reserve(self, need: int = 0, why: str = "", resume: bool = False) -> None:
        """Checks that `need` bytes are free (the reserve counted in), then writes the reserve; refuses
        (Refused, after releasing the directory: nothing written) if the disk has no room for them."""
        need = max(need, RESERVE + 4096)
        free, total = free_bytes(self.run_dir)
        short = free < need
        if not short:
            try:
                os.pwrite(self.fd, os.urandom(RESERVE), len(self.line))
                os.fsync(self.fd)  # allocated now, not at writeback time
            except OSError as e:
                if not is_full(e):
                    raise
                short = True
        if short:
            self.release()
            free, total = free_bytes(self.run_dir)
            what = f"resume={self.run_dir}: not enough space to continue that run" if resume else \
                f"{self.run_dir}: not enough space for a run"
            raise Refused(f"{what}: {filesystem(self.run_dir)} has {size_text(free)} free (of {size_text(total)}); "
                          f"{why or f'a run needs at least {size_text(need)}'}. Free {size_text(need - free)} "
                          "more (or ask for fewer steps), then run this again.")

    def free_reserve(self) -> None:
        """The disk is full: give the reserve back, for result.json."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, len(self.line))

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):  # removed while still held, so no one locks a removed file
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                os.remove(self.path)
        os.close(self.fd)
        self.fd = None
