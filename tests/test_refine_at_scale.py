"""What keeps a rename or merge cheap at 250,000 images (README "Refinements at large N") without changing
what users see: the state written directly reads back the same, versions keep their own outputs, report
pages are rewritten only when what they show changed, and results.json is the same JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ictc.core.images import sha256_of
from ictc.evaluation import report
from ictc.evaluation.outputs import read_json, write_json
from ictc.graph.refine import refine_run, restore_run
from ictc.graph.run import start_run
from ictc.graph.session import run_state
from ictc.nodes.actions import AddInstruction, Merge, Rename
from ictc.prompts import make_criterion
from ictc.store.thumbnails import ThumbnailCache

from fakes import fake_context, step_calls


@pytest.fixture
def finished(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    return start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)


def _clusters(rows):
    return [(r["image"], r["cluster"]) for r in rows]


def test_a_rename_and_a_merge_read_back_as_written_and_later_steps_see_them(finished):
    run_dir = finished.run_dir
    renamed = refine_run(run_dir, Rename("Red", "Warm"), context=fake_context())
    merged = refine_run(run_dir, Merge(("Green", "Blue"), "Cool"), context=fake_context())
    state = run_state(run_dir)  # read from the checkpoint, not the state the refinement kept in memory
    assert sorted(state["naming"]["names"]) == ["Cool", "Warm"] and state["n_clusters"] == 2
    assert [(p, state["assignments"][p]["cluster"]) for p, _ in _clusters(merged.rows)] == _clusters(merged.rows)
    assert {c for _, c in _clusters(renamed.rows)} == {"Warm", "Green", "Blue"}
    ctx = fake_context()  # a later Step-3 refinement starts from the merged names
    after = refine_run(run_dir, AddInstruction("Prefer warm colours.", "assign"), context=ctx)
    assert step_calls(ctx.llm, "sort images") == 8 and set(after.results["cluster_names"]) == {"Cool", "Warm"}
    back = restore_run(run_dir, 1, context=fake_context())
    assert _clusters(back.rows) == _clusters(finished.rows) and run_state(run_dir)["n_clusters"] == 3


def test_each_version_keeps_its_own_outputs(finished):
    run_dir = finished.run_dir
    first = (run_dir / "versions" / "v1" / "results.json").read_bytes()
    refine_run(run_dir, Rename("Red", "Warm"), context=fake_context())
    refine_run(run_dir, Merge(("Green", "Blue"), "Cool"), context=fake_context())
    assert (run_dir / "versions" / "v1" / "results.json").read_bytes() == first  # outputs are replaced, not edited
    assert "Warm" not in first.decode() and "Warm" in (run_dir / "versions" / "v2" / "results.csv").read_text()
    assert read_json(run_dir / "versions" / "v3" / "results.json") == read_json(run_dir / "results.json")


def test_changes_are_found_from_the_earlier_version_s_csv(finished):
    """finish() compares with the previous version's results.csv (graph/versions.py version_clusters), not
    its results.json; a name with a comma and quotes survives the CSV (a line break is not kept in a new name:
    nodes/actions.py Rename)."""
    from ictc.graph.versions import diff, version_clusters

    odd = 'Warm, "reddish" ones'
    renamed = refine_run(finished.run_dir, Rename("Red", odd), context=fake_context())
    assert renamed.changes == {"renamed": {"Red": odd}, "merged": {}, "moved": []}
    assert version_clusters(finished.run_dir, 2) == {r["image"]: r["cluster"] for r in renamed.rows}
    merged = refine_run(finished.run_dir, Merge((odd, "Blue"), "Mixed"), context=fake_context())
    assert merged.changes == diff(renamed.rows, merged.rows) and merged.changes["merged"] == {"Mixed": [odd, "Blue"]}


@pytest.fixture
def rows(colour_images):
    return [{"image": p, "sha256": sha256_of(p), "cluster": Path(p).stem.split("_")[0].title(), "description": "d",
             "raw_label": "x", "route": "schema", "status": "ok", "reason": ""} for p in colour_images[0]]


def _results(rows):
    return {"cluster_names": sorted({r["cluster"] for r in rows}), "criterion": {"text": "colour"},
            "models": {"vlm": "v", "llm": "l"}}


def test_report_pages_are_rewritten_only_when_what_they_show_changed(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "PAGE_SIZE", 3)
    path = tmp_path / "run" / "report.html"
    cache = ThumbnailCache(tmp_path / "thumbnails.sqlite")
    pages = [path, path.with_name("report-2.html"), path.with_name("report-3.html")]

    def write(new_rows):
        before = [p.stat().st_ino for p in pages]  # a rewrite replaces the file (a new inode)
        report.write_report(path, _results(new_rows), new_rows, cache)
        return [p.stat().st_ino != b for p, b in zip(pages, before, strict=True)]

    report.write_report(path, _results(rows), rows, cache)  # pages: Blue Blue Green | Green Green Red | Red Red
    renamed = [{**r, "cluster": "Azure" if r["cluster"] == "Blue" else r["cluster"]} for r in rows]
    assert write(renamed) == [True, False, False]  # the first page (the index) always; Blue is on it alone
    assert "Azure" in path.read_text() and "Blue" not in path.read_text()
    scarlet = [{**r, "cluster": "Scarlet" if r["cluster"] == "Red" else r["cluster"]} for r in renamed]
    assert write(scarlet) == [True, True, True] and "Scarlet (continued)" in pages[2].read_text()
    last = max(i for i, r in enumerate(scarlet) if r["cluster"] == "Scarlet")  # the last figure of page 3
    described = [{**r, "description": "a new description"} if i == last else r for i, r in enumerate(scarlet)]
    assert write(described) == [True, False, True] and "a new description" in pages[2].read_text()
    assert pages[1].read_text().count("<figure") == 3 and "report.html" in pages[1].read_text()


def test_results_json_is_the_json_the_standard_library_writes(tmp_path):
    class Score(float):  # what orjson does not take goes through the standard encoder
        pass

    value = {"names": ["Café", "北京"], "counts": {3: 1}, "score": np.float64(0.25), "nested": [{"a": None}]}
    write_json(tmp_path / "a.json", value)
    text = (tmp_path / "a.json").read_text("utf-8")
    assert json.loads(text) == {"names": ["Café", "北京"], "counts": {"3": 1}, "score": 0.25, "nested": [{"a": None}]}
    assert "Café" in text and text.endswith("}\n") and '\n  "names": [\n    "Café",' in text
    write_json(tmp_path / "b.json", {"score": Score(0.5)})
    assert read_json(tmp_path / "b.json") == {"score": 0.5}
    with pytest.raises(TypeError):
        write_json(tmp_path / "c.json", {"bad": object()})


def test_a_long_list_is_written_in_pieces_as_the_same_bytes(tmp_path, monkeypatch):
    """results.json's rows are serialised STREAM_AT at a time (the whole text of 250,000 images is never
    held): the file is byte for byte what one orjson call writes, nested values and fallbacks included."""
    from ictc.evaluation import outputs

    class Score(float):
        pass

    monkeypatch.setattr(outputs, "STREAM_AT", 3)
    value = {"run_id": "x", "images": [{"image": f"{i}.png", "seconds": {"label": i / 3}, "tags": ["é", i]}
                                       for i in range(10)],
             "empty": [], "metrics": {"score": Score(0.5), "counts": [1, 2, 3, 4]}, "tail": list(range(4))}
    write_json(tmp_path / "r.json", value)
    assert (tmp_path / "r.json").read_bytes() == outputs.json_bytes(value)
    assert len(list(outputs.json_pieces(value))) > 5 and read_json(tmp_path / "r.json")["images"][9]["tags"] == ["é", 9]


def test_rows_made_by_consuming_the_state_are_the_same_and_twins_keep_their_records(finished):
    from ictc.evaluation.outputs import image_rows

    state = run_state(finished.run_dir)
    first = state["images"][0]
    state["images"] = [*state["images"], {"path": "/elsewhere/twin.png", "sha256": first["sha256"]}]
    rows = image_rows(state)
    consumed = image_rows(state, consume=True)
    assert consumed == rows and rows[-1]["same_as"] == first["path"] and rows[-1]["description"]
    assert list(state["descriptions"]) == [first["path"]] and list(state["labels"]) == [first["path"]]


def test_checkpoint_records_are_compressed_and_uncompressed_ones_still_read(finished, tmp_path):
    import sqlite3

    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from ictc.graph.checkpointer import run_saver

    db = finished.run_dir / "checkpoints.sqlite"
    with sqlite3.connect(db) as connection:
        types = {t for (t,) in connection.execute("SELECT type FROM writes UNION SELECT type FROM checkpoints")}
    assert types and all(t.endswith("+zstd") for t in types if t not in ("null", "empty"))
    plain = JsonPlusSerializer()  # a run folder written before compression: records without "+zstd"
    with sqlite3.connect(db) as connection:
        serde = run_saver(connection).serde
        for table, column in (("writes", "value"), ("checkpoints", "checkpoint")):
            rows = connection.execute(f"SELECT rowid, type, {column} FROM {table}").fetchall()  # noqa: S608
            for rowid, kind, blob in rows:
                if kind.endswith("+zstd"):
                    connection.execute(f"UPDATE {table} SET type = ?, {column} = ? WHERE rowid = ?",  # noqa: S608
                                       (*plain.dumps_typed(serde.loads_typed((kind, blob))), rowid))
    state = run_state(finished.run_dir)
    assert {p: a["cluster"] for p, a in state["assignments"].items()} == {
        r["image"]: r["cluster"] for r in finished.rows}
    renamed = refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())  # old and new records mixed
    assert renamed.changes == {"renamed": {"Red": "Warm"}, "merged": {}, "moved": []}
