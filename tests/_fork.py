"""A child process forked while a lock is held, as a pre-fork server or a fork-started process
pool makes one while another thread holds it: the child runs a check and reports only through
its exit status, and the parent fails the test if the child hangs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest


def fork(check: Callable[[], bool]) -> int:
    """Fork; the child exits 0 when `check()` returns True, 1 when it returns False or raises."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if check() else 1
        finally:
            os._exit(code)
    return pid


def exit_code(pid: int, hung: str, timeout: float = 30) -> int:
    """The child's exit code; the test fails with `hung` (the child killed) if it has not exited in time."""
    deadline = time.monotonic() + timeout
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(hung)
    return os.waitstatus_to_exitcode(done[1])
