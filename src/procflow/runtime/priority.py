"""Bulk work at a lower CPU priority, so that live work on the same machine goes first.

A batch slice runs with its thread's nice value raised (Linux schedules threads one by one)
and lowered again afterwards. Lowering it back needs ``CAP_SYS_NICE`` or a large enough
``RLIMIT_NICE``; a process without either would stay at the lower priority for all its
work, live jobs included, so it does not lower its priority at all.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

log = logging.getLogger("procflow.batch")

_CAP_SYS_NICE = 23
_MAX_NICE = 19


@contextmanager
def lowered(step: int) -> Iterator[None]:
    """Run the block with this thread's nice value ``step`` higher (0: unchanged)."""
    if step <= 0 or not may_restore():
        yield
        return
    thread = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, thread)
    os.setpriority(os.PRIO_PROCESS, thread, min(_MAX_NICE, before + step))
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, thread, before)


@cache
def may_restore() -> bool:
    if not hasattr(os, "setpriority"):
        return False
    # RLIMIT_NICE lets a process go back down to a nice value of 20 - its soft limit.
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    unlimited = soft == resource.RLIM_INFINITY
    if unlimited or os.getpriority(os.PRIO_PROCESS, 0) >= 20 - soft or _has_sys_nice():
        return True
    log.info("batch slices keep the worker's priority: it could not raise it back")
    return False


def _has_sys_nice() -> bool:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> _CAP_SYS_NICE & 1)
    return False
