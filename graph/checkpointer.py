"""A run's checkpointer: LangGraph's SQLite saver with every record compressed by zstd (issue 19: a run
folder's checkpoints at 250,000 images). Records written uncompressed by earlier versions stay readable."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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


class RunSaver(SqliteSaver):
    """LangGraph's SQLite saver that can keep the per-image history it read for a checkpoint: LangGraph's
    `get_state` and then `update_state` on the same checkpoint each read and unpack every task write of the
    per-image fields (nodes/state.py: DeltaChannel), ~2 s apiece at 250,000 images. Inside
    `reusing_history()` the second read of the same checkpoint's history is the first one's result."""

    def __init__(self, connection: sqlite3.Connection, serde: Any) -> None:
        super().__init__(connection, serde=serde)
        self._history: dict[tuple[Any, ...], Mapping[str, Any]] | None = None  # None: nothing is kept
        self.history_reads = 0  # histories read from the database (not from what was kept)

    @contextmanager
    def reusing_history(self) -> Iterator[None]:
        """Within the block, a checkpoint's history is read from the database once. Only for a block that
        writes nothing between its reads of one checkpoint (graph/refine.py: read the state, then write a
        rename as a new checkpoint): a checkpoint's ancestors and their writes never change, so the history
        of a given checkpoint id stays valid. What was kept is dropped when the block ends."""
        self._history = {}
        try:
            yield
        finally:
            self._history = None

    def get_delta_channel_history(self, *, config: RunnableConfig,
                                  channels: Sequence[str]) -> Mapping[str, Any]:
        """SqliteSaver's history of `channels` at the checkpoint `config` names (seed and writes per channel),
        kept inside `reusing_history()` when `config` names its checkpoint id."""
        settings = config.get("configurable", {})
        key = (settings.get("thread_id"), settings.get("checkpoint_ns", ""), settings.get("checkpoint_id"),
               tuple(sorted(channels)))
        if self._history is not None and key[2] and key in self._history:
            return self._history[key]
        self.history_reads += 1
        history = super().get_delta_channel_history(config=config, channels=channels)
        if self._history is not None and key[2]:
            self._history[key] = history
        return history


def run_saver(connection: sqlite3.Connection) -> RunSaver:
    """The checkpointer of a run folder on `connection` (its checkpoints.sqlite), records compressed."""
    return RunSaver(connection, serde=EncryptedSerializer(ZstdCodec()))
