"""Keeping the resident memory of a long run flat (glibc only; a no-op elsewhere).

Measured with bench/memory.py: with 17 threads glibc keeps up to 16 malloc arenas, each holding its
own freed blocks, so resident memory grew with the number of images although live Python objects
barely did. Two arenas and handing freed pages back at each window boundary keep it flat; with the
GIL, the threads hardly contend for malloc."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import os
from collections.abc import Iterator

M_ARENA_MAX = -8  # from glibc's malloc.h


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas, unless the user set MALLOC_ARENA_MAX themselves."""
    libc = _libc()
    if libc is not None and "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(M_ARENA_MAX, arenas)


def release_free_memory() -> None:
    """Return freed heap pages to the system (a few milliseconds)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block, back as it was after it.

    For work that makes many objects and no reference cycles while a large run state is held: each full
    collection walks every live object, so reading 32,000 images' results and writing their outputs spent
    about a third of a rename's time in the collector (cProfile, bench/refine_scale.py --synthetic)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
