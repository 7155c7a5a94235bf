"""A run's checkpointer: LangGraph's SQLite saver with every record compressed by zstd (issue 19: a run
folder's checkpoints at 250,000 images). Records written uncompressed by earlier versions stay readable."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import zstandard
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

CODEC = "zstd"  # appended to each record's type ("msgpack+zstd"); a type without "+" is read as it is
LEVEL = 1  # zstd's fastest level: a 2,000-image run's records go from 2.16 KB to 0.77 KB per image
# (0.79 KB at level 3, 0.78 KB at 6), at ~35 µs of CPU per image to compress


class ZstdCodec:
    """LangGraph's CipherProtocol used for compression: EncryptedSerializer appends the name to the
    record's type and hands the bytes here, so no serialiser of our own is needed. zstd objects are not
    thread-safe and the checkpointer writes from LangGraph's background thread: one per thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _pair(self) -> tuple[Any, Any]:
        if not hasattr(self._local, "pair"):
            self._local.pair = (zstandard.ZstdCompressor(level=LEVEL), zstandard.ZstdDecompressor())
        return self._local.pair

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        """(CODEC, the zstd frame of `plaintext`)."""
        return CODEC, self._pair()[0].compress(plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        """The bytes of a zstd frame. Raises ValueError for another codec name (a record this code did not
        write) and zstandard.ZstdError for a damaged frame."""
        if ciphername != CODEC:
            raise ValueError(f"checkpoint record compressed with {ciphername!r}, not {CODEC!r}")
        return self._pair()[1].decompress(ciphertext)


_KEPT: ContextVar[tuple[RunSaver, dict[tuple[Any, ...], Mapping[str, Any]]] | None] = ContextVar(
    "ictc_kept_history", default=None)  # (the saver, what it kept) inside reusing_history(), in that context only


class RunSaver(SqliteSaver):
    """LangGraph's SQLite saver that can keep the per-image history it read for a checkpoint: LangGraph's
    `get_state` and then `update_state` on the same checkpoint each read and unpack every task write of the
    per-image fields (nodes/state.py: DeltaChannel), ~2 s apiece at 250,000 images. Inside
    `reusing_history()` the second read of the same checkpoint's history is the first one's result."""

    @contextmanager
    def reusing_history(self) -> Iterator[None]:
        """Within the block, a checkpoint's history is read from the database once. Only for a block that
        writes nothing between its reads of one checkpoint (graph/refine.py: read the state, then write a
        rename as a new checkpoint): a checkpoint's ancestors and their writes never change, so the history
        of a given checkpoint id stays valid. What was kept is dropped when the block ends.

        The history kept is handed to LangGraph as it is, and the channels (so the state values) it builds
        from it may share its objects: inside the block, treat the state read as read-only (graph/refine.py
        copies what it changes; nodes/state.py merge builds new dicts), or the next read of that checkpoint
        would see the change. What is kept lives in a ContextVar, so only the thread (and context) that
        entered the block reuses it: LangGraph's worker threads and other sessions on the same saver read
        from the database as usual."""
        token = _KEPT.set((self, {}))
        try:
            yield
        finally:
            _KEPT.reset(token)

    def get_delta_channel_history(self, *, config: RunnableConfig,
                                  channels: Sequence[str]) -> Mapping[str, Any]:
        """SqliteSaver's history of `channels` at the checkpoint `config` names (seed and writes per channel),
        kept inside `reusing_history()` when `config` names its checkpoint id."""
        settings = config.get("configurable", {})
        key = (settings.get("thread_id"), settings.get("checkpoint_ns", ""), settings.get("checkpoint_id"),
               tuple(sorted(channels)))
        kept = _KEPT.get()
        cache = kept[1] if kept is not None and kept[0] is self and key[2] else None
        if cache is not None and key in cache:
            return cache[key]
        history = super().get_delta_channel_history(config=config, channels=channels)
        if cache is not None:
            cache[key] = history
        return history


def run_saver(connection: sqlite3.Connection) -> RunSaver:
    """The checkpointer of a run folder on `connection` (its checkpoints.sqlite), records compressed."""
    return RunSaver(connection, serde=EncryptedSerializer(ZstdCodec()))
