"""src/owner.py alone: the lock and who holds it, writes that are all or nothing, a full device, the estimate."""
import errno
import os

import pytest

from src import owner
from src.owner import LOCK_FILE, DiskFull, Owner, Refused, Staged

pytestmark = pytest.mark.unit


def test_the_lock_names_its_owner_and_goes_with_it(tmp_path):
    held = Owner.acquire(str(tmp_path))
    with pytest.raises(Refused, match=rf"in use by another graphduel run \(pid {os.getpid()} on "):
        Owner.acquire(str(tmp_path))  # flock is per open file: refused in the same process too
    with pytest.raises(Refused, match=rf"resume={tmp_path}: that run is still running \(pid {os.getpid()} "):
        owner.probe(str(tmp_path))
    held.reserve()
    assert (tmp_path / LOCK_FILE).stat().st_size > owner.RESERVE
    held.free_reserve()
    assert (tmp_path / LOCK_FILE).stat().st_size < 4096
    held.release()
    assert not (tmp_path / LOCK_FILE).exists()
    owner.probe(str(tmp_path))  # nobody: no refusal
    (tmp_path / LOCK_FILE).write_text('{"pid": 1, "host": "gone", "started": 0}\n')  # a killed owner's file
    Owner.acquire(str(tmp_path)).release()


def test_staged_files_are_all_or_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("old")

    def no_room(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFull, match=r"is full \(.* free of .*\) while writing the run's files"), \
            Staged("the run's files") as staged:
        staged.write(str(tmp_path / "a.txt"), "new")
        staged.write(str(tmp_path / "b.txt"), no_room)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old"
    with Staged("x") as staged:
        staged.write(str(tmp_path / "a.txt"), "new")
        staged.write(str(tmp_path / "b.txt"), b"\x00")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text() == "new"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full (every write: ENOSPC)")
def test_the_event_writer_on_a_full_device_says_so_once_and_then_writes_nothing(tmp_path):
    from src.event_file import EventFileWriter

    writer = EventFileWriter(str(tmp_path), path="/dev/full")
    writer.scalars(1, {"train/loss": 1.0})
    with pytest.raises(DiskFull, match=r"is full .* while writing the TensorBoard event file") as e:
        writer.flush()
    assert e.value.__cause__ is None and e.value.__suppress_context__  # one line, no chained traceback
    assert writer.broken
    writer.scalars(2, {"train/loss": 1.0})
    writer.flush()  # nothing more is written, nothing raised
    writer.close()


def test_what_a_run_needs_counts_the_rewrite_the_steps_left_and_the_checkpoint():
    base = owner.RESULT_BYTES + owner.RESERVE + 4096
    # 100 steps left at 100 B, a checkpoint of 1000 B, 1000 B of steps past the checkpoint to be dropped.
    assert owner.needs(100, 50, 150, kept=5000, logged=6000, ckpt=1000) == 10000 + base
    # Few steps left: the rewrite of the kept steps, beside the old file, is what needs the room.
    assert owner.needs(100, 50, 60, kept=5000, logged=6000, ckpt=1000) == 5000 + base
    assert owner.size_text(512) == "512 B" and owner.size_text(1536) == "1.5 KiB"
    assert owner.size_text(3 * 2**20) == "3.0 MiB"
