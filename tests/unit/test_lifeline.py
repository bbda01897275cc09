"""The executor's watch on its supervisor: a closed pipe mid-task cancels; messages between
tasks, and a task ending, never do (and never make the task wait for a poll interval)."""

from __future__ import annotations

import threading
import time
from multiprocessing import Pipe

from orcrustator.worker.lifeline import SupervisorWatch


def test_messages_between_tasks_are_not_a_lost_supervisor() -> None:
    parent, child = Pipe()
    lost = threading.Event()
    watch = SupervisorWatch(child.fileno(), lost.set)
    started = time.monotonic()
    for n in range(200):
        parent.send(("run", n))
        time.sleep(0.0005 if n % 20 == 0 else 0)  # let the watcher see some messages idle
        assert child.recv() == ("run", n)
        with watch.watching():
            pass
    # 200 tasks: a watch that waited out a poll interval per task would take many seconds.
    assert time.monotonic() - started < 5.0
    time.sleep(0.2)
    assert not lost.is_set()
    parent.close()
    child.close()


def test_a_closed_pipe_during_a_task_cancels_it() -> None:
    parent, child = Pipe()
    lost = threading.Event()
    watch = SupervisorWatch(child.fileno(), lost.set, grace=30.0)
    parent.send(("run", 1))
    child.recv()
    with watch.watching():
        parent.close()  # the worker is gone
        assert lost.wait(5.0), "the watch did not notice the closed pipe"
    child.close()


def test_a_pipe_closed_while_idle_is_left_to_the_reader() -> None:
    parent, child = Pipe()
    lost = threading.Event()
    SupervisorWatch(child.fileno(), lost.set)
    parent.close()
    time.sleep(0.3)
    assert not lost.is_set()  # recv() in the main loop sees EOF and ends the process
    child.close()
