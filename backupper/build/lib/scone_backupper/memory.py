"""Keeps part buffers out of the long-lived heap so peak memory does not creep with snapshot size.

Why: glibc raises its mmap threshold dynamically after large blocks are freed, so after the first
few 8 MiB parts later parts are carved from the heap/arenas, which fragment and grow with the
number of parts uploaded. Pinning the threshold at 1 MiB makes every part buffer an mmap that is
returned to the kernel as soon as the part is done (measured: 64 MiB vs 384 MiB snapshots then
peak within a few MiB of each other). On non-glibc systems this is a harmless no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

M_MMAP_THRESHOLD = -3


def pin_mmap_threshold(threshold: int = 1024 * 1024) -> bool:
    """Fix glibc's mmap threshold; returns False where that is not possible (non-glibc)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))


def peak_rss_bytes(status: Path = Path("/proc/self/status")) -> int | None:
    """This process's peak resident memory (VmHWM), or None where /proc does not say.

    Why not ``ru_maxrss`` as seen by a parent: Linux folds the parent's high-water mark into a
    child's ``ru_maxrss`` when the child is forked (or vforked) and execs, so a parent that has
    grown (a long pytest session) makes every child look that big. VmHWM belongs to the new
    address space only, so the backupper reports it itself, against its 256Mi container limit.
    """
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None
