"""The press journal: where ingress durably records presses while the broker is unreachable.

An append-only file of JSON lines, fsync'd before the press is answered 202. The forwarder
publishes its entries in order once the broker is back, then empties it. Forwarding an entry
twice is harmless (the alarm derives from press_id); losing one is not, so the file is only
emptied after every entry in it was acknowledged by the broker, and no line is dropped unseen.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from shared.events import AlarmPressed

log = logging.getLogger(__name__)


MAX_SLOTS = 64  # alarms instances that may share one JOURNAL_DIR


class PressJournal:
    def __init__(self, directory: Path) -> None:
        self.root = directory
        self._lock = asyncio.Lock()
        self._owner: int | None = None
        self._point_at(directory)
        self._count = len(self._read()[0])

    def _point_at(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "presses.jsonl"
        self.unreadable_path = folder / "presses.unreadable.jsonl"

    def _use(self, folder: Path) -> None:
        """The journal in `folder`, held by this process: only its holder may cut a torn line
        (another instance may be writing that line)."""
        self._point_at(folder)
        self._cut_torn_tail()
        self._count = len(self._read()[0])

    def claim(self) -> None:
        """Hold a journal folder for this process (an exclusive lock, released when it exits):
        JOURNAL_DIR itself, else the first of its `instance-N` folders that no running instance
        holds. Two instances appending to and truncating one journal would lose each other's
        presses; instances sharing one volume (Compose's `--scale`) each take their own. Then
        takes over what instances that are gone left journaled in the others."""
        for folder in self._slots():
            descriptor = _try_lock(folder)
            if descriptor is not None:
                break
        else:
            raise RuntimeError(
                f"JOURNAL_DIR {self.root}: all {MAX_SLOTS} journal folders are held by running "
                "alarms instances"
            )
        self._use(folder)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        self._owner = descriptor
        self._take_over_orphans()

    def _slots(self) -> list[Path]:
        return [self.root, *(self.root / f"instance-{n}" for n in range(1, MAX_SLOTS))]

    def _take_over_orphans(self) -> None:
        """Presses journaled by an instance that is gone (its folder held by nobody) are moved
        into this instance's journal, to be forwarded from here: written and fsync'd here
        before they are cut from there, so a crash between the two repeats them (harmless: an
        alarm derives from its press_id) and never loses one."""
        for folder in self._slots():
            if folder == self.path.parent or not (folder / "presses.jsonl").exists():
                continue
            descriptor = _try_lock(folder)
            if descriptor is None:
                continue  # a running instance's own
            try:
                orphan = PressJournal(folder)
                orphan._cut_torn_tail()
                events, unreadable = orphan._read()
                self._append_lines_sync([event.model_dump_json() for event in events])
                self._count += len(events)
                if unreadable:
                    orphan._keep_aside(unreadable)
                orphan._truncate()
            finally:
                os.close(descriptor)
            if events:
                log.warning(
                    "journal of an instance that is gone taken over",
                    extra={"folder": str(folder), "presses": len(events)},
                )

    def release(self) -> None:
        """Let the folder go (a clean stop; a crash releases it with the process)."""
        if self._owner is not None:
            os.close(self._owner)  # closing the descriptor drops its lock
            self._owner = None

    @property
    def backlog(self) -> int:
        """Entries not yet forwarded."""
        return self._count

    async def append(self, event: AlarmPressed) -> None:
        """Durable when this returns: written, flushed and fsync'd (file and, when new, folder)."""
        async with self._lock:
            await asyncio.to_thread(self._append_sync, event.model_dump_json())
            self._count += 1

    def _append_sync(self, line: str) -> None:
        self._append_lines_sync([line])

    def _append_lines_sync(self, lines: list[str]) -> None:
        if not lines:
            return
        created = not self.path.exists()
        with self.path.open("ab+") as fh:
            # An append that failed half-way in this process left a line without its end:
            # start on a line of our own, never glued to it.
            size = fh.seek(0, os.SEEK_END)
            if size and os.pread(fh.fileno(), 1, size - 1) != b"\n":
                fh.write(b"\n")
            fh.write("".join(line + "\n" for line in lines).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_folder(self.path.parent)

    def _cut_torn_tail(self) -> None:
        """A crash mid-write leaves the last line without its end. That press was never
        answered 202 (an append returns after fsync), so it is cut off before anything is
        appended behind it."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        with self.path.open("r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        log.warning("journal: torn last line cut off", extra={"bytes": len(data) - keep})

    def _read(self) -> tuple[list[AlarmPressed], list[str]]:
        """The journaled presses in order, and the lines that are not one."""
        if not self.path.exists():
            return [], []
        events, unreadable = [], []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append(AlarmPressed.model_validate_json(line))
            except ValueError:
                unreadable.append(line)
        return events, unreadable

    async def forward(self, send: Callable[[AlarmPressed], Awaitable[None]]) -> int:
        """Send every entry in order; empty the journal only when all were sent. Appends wait
        meanwhile, so nothing lands behind the truncation. Lines that are not a press (damage
        nobody wrote on purpose) are kept aside in presses.unreadable.jsonl for a person.
        Returns how many were sent."""
        async with self._lock:
            events, unreadable = await asyncio.to_thread(self._read)
            for event in events:
                await send(event)
            if unreadable:
                await asyncio.to_thread(self._keep_aside, unreadable)
            await asyncio.to_thread(self._truncate)
            self._count = 0
            return len(events)

    def _keep_aside(self, lines: list[str]) -> None:
        with self.unreadable_path.open("a", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
            fh.flush()
            os.fsync(fh.fileno())
        log.error(
            "unreadable journal line(s) kept aside",
            extra={"lines": len(lines), "path": str(self.unreadable_path)},
        )

    def _truncate(self) -> None:
        with self.path.open("w", encoding="utf-8") as fh:
            fh.flush()
            os.fsync(fh.fileno())


def _try_lock(folder: Path) -> int | None:
    """The folder's lock, held through the returned descriptor; None if another holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / "owner.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _fsync_folder(folder: Path) -> None:
    """Make a new file's name durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
