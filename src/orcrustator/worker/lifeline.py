"""An executor process must not outlive the worker that supervises it.

A worker killed outright (SIGKILL, the OOM killer) cannot stop its executors, and an orphaned
executor would carry on: it could commit a load after the reaper has handed the run to a new
attempt, writing the same rows twice. While a task runs the supervisor sends nothing down the
task pipe (a cancel travels through a shared flag), so the pipe turning readable mid-task means
its other end is closed: the supervisor is gone. The task is then cancelled at once, and if the
plugin does not stop within a grace period (blocked in C code, say) the process exits hard; its
database sessions close with it, which rolls back their open transactions.

One watcher thread serves every task of the process, and a wake-up pipe tells it when a task
starts or ends: starting and joining a thread per task, or waiting for a poll interval to lapse
when a task ends, would cost more than a trivial task itself.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator

ORPHAN_EXIT_CODE = 3
_POLL_MASK = select.POLLIN | select.POLLHUP | select.POLLERR


class SupervisorWatch:
    """Watch `fd` while a `watching()` block runs; if it turns readable, call `on_lost`, then
    end the process unless the block finishes within `grace` seconds."""

    def __init__(self, fd: int, on_lost: Callable[[], None], *, grace: float = 2.0) -> None:
        self._fd = fd
        self._on_lost = on_lost
        self._grace = grace
        self._lock = threading.Lock()
        self._active = False
        self._idle = threading.Event()
        self._idle.set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._watch, name="supervisor-watch", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """The block is one task: the pipe must stay quiet until it ends."""
        with self._lock:
            self._active = True
            self._idle.clear()
        self._wake()
        try:
            yield
        finally:
            with self._lock:
                self._active = False
                self._idle.set()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a wake-up is already pending
            os.write(self._wake_w, b"!")

    def _readable_now(self) -> bool:
        poller = select.poll()
        poller.register(self._fd, _POLL_MASK)
        return bool(poller.poll(0))

    def _watch(self) -> None:
        while True:
            poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
            with self._lock:
                active = self._active
            if active:
                poller.register(self._fd, _POLL_MASK)
            events = dict(poller.poll())
            if self._wake_r in events:
                os.read(self._wake_r, 64)
            if self._fd not in events:
                continue
            with self._lock:
                # Idle, the readable pipe is the next task arriving. Active, a message read
                # before the task started is gone by now: only a closed pipe is still readable.
                lost = self._active and self._readable_now()
            if lost:
                break
        print(f"executor {os.getpid()}: the worker is gone; stopping the task", file=sys.stderr)
        self._on_lost()
        if not self._idle.wait(self._grace):
            print(
                f"executor {os.getpid()}: the task did not stop within {self._grace:g} s; exiting",
                file=sys.stderr,
            )
            os._exit(ORPHAN_EXIT_CODE)
