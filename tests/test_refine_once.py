"""Issue 19 at 250,000 images, checked at small N: a rename or a merge reads the run's per-image history from
the checkpoints once and the last version's results.csv not at all; a Stop is honoured before the change is
written (nothing changes) and while its outputs are written (Continue records the version)."""

from __future__ import annotations

import json
import threading

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from ictc.core.errors import UsageError
from ictc.graph import versions
from ictc.graph.refine import refine_run, undo_run
from ictc.graph.run import resume_run, start_run
from ictc.graph.session import RunSession, run_state
from ictc.nodes.actions import Merge, Rename
from ictc.nodes.context import StopRequested
from ictc.prompts import make_criterion

from fakes import fake_context


@pytest.fixture
def finished(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    return start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)


@pytest.fixture
def history_reads(monkeypatch):
    """How many times the per-image history (every task write of the DeltaChannel fields) is read from the
    checkpoint database: each read unpacks every image's records (~2 s at 250,000 images)."""
    reads = []
    original = SqliteSaver.get_delta_channel_history

    def counted(self, **kwargs):
        reads.append(kwargs["config"]["configurable"].get("checkpoint_id"))
        return original(self, **kwargs)

    monkeypatch.setattr(SqliteSaver, "get_delta_channel_history", counted)
    return reads


def test_a_rename_and_a_merge_read_the_history_once_and_no_results_csv(finished, history_reads, monkeypatch):
    def no_csv(*args):
        raise AssertionError("the last version's results.csv was read again")

    # a context of its own, undone at its end: monkeypatch.undo() had undone conftest's settings too (the levers
    # off, ICTC_WORKSPACE), which then stayed in the environment of every later test (conftest restore_environment)
    with monkeypatch.context() as patch:
        patch.setattr(versions, "version_clusters", no_csv)
        patch.setattr("ictc.graph.session.version_clusters", no_csv)
        renamed = refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())
        assert len(history_reads) == 1
        merged = refine_run(finished.run_dir, Merge(("Green", "Blue"), "Cool"), context=fake_context())
        assert len(history_reads) == 2
    assert renamed.changes == {"renamed": {"Red": "Warm"}, "merged": {}, "moved": []}
    assert merged.changes["merged"] == {"Cool": ["Green", "Blue"]} and merged.changes["moved"] == []  # a merge
    # the changes found from the state are those the versions' results.csv give
    assert merged.changes == versions.diff_from(versions.version_clusters(finished.run_dir, 2), merged.rows)
    state = run_state(finished.run_dir)  # what was written reads back as the rows say
    assert {p: a["cluster"] for p, a in state["assignments"].items()} == {r["image"]: r["cluster"] for r in merged.rows}


def test_after_an_unrecorded_change_the_next_waits_for_it_and_diffs_from_its_version(finished, monkeypatch):
    """A change stopped after its writes but before its version was recorded: the next change is refused until
    Continue records it (else the next version would hold it under another name, as a newcomer saw), and then
    the changes are found against that recorded version."""
    def stop_at_writing(self, done, words):
        if done == 1:
            raise StopRequested("stop requested")

    with monkeypatch.context() as patch:
        patch.setattr(RunSession, "_phase", stop_at_writing)
        with pytest.raises(StopRequested):
            refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())
    with pytest.raises(UsageError, match=r"stopped before it was saved as a version \(rename 'Red' to 'Warm'\)"):
        refine_run(finished.run_dir, Merge(("Warm", "Blue"), "Mixed"), context=fake_context())
    assert resume_run(finished.run_dir, context=fake_context()).version == 2  # Continue records the rename
    merged = refine_run(finished.run_dir, Merge(("Warm", "Blue"), "Mixed"), context=fake_context())
    assert merged.changes == versions.diff_from(versions.version_clusters(finished.run_dir, 2), merged.rows)
    assert merged.changes["merged"] == {"Mixed": ["Warm", "Blue"]}  # of version 2's Warm, not version 1's Red


def _stopped_context():
    ctx = fake_context()
    ctx.stop = threading.Event()
    return ctx


def test_a_stop_before_a_rename_is_written_changes_nothing(finished):
    ctx = _stopped_context()
    ctx.stop.set()
    before = (finished.run_dir / "results.json").read_bytes()
    with pytest.raises(StopRequested):
        refine_run(finished.run_dir, Rename("Red", "Warm"), context=ctx)
    meta = json.loads((finished.run_dir / "run.json").read_text())
    assert "pending_action" not in meta and len(meta["versions"]) == 1
    assert "Warm" not in run_state(finished.run_dir)["naming"]["names"]
    assert (finished.run_dir / "results.json").read_bytes() == before


@pytest.mark.parametrize("change", ["rename", "undo"])
def test_a_stop_while_the_outputs_are_written_is_recorded_by_continue(finished, monkeypatch, change):
    refine_run(finished.run_dir, Merge(("Green", "Blue"), "Cool"), context=fake_context())  # version 2
    ctx = _stopped_context()

    def stop_when_writing(self, done, words):
        if done == 1:  # "writing results.csv/json, the HTML report and the metrics"
            ctx.stop.set()

    with monkeypatch.context() as patch:
        patch.setattr(RunSession, "_phase", stop_when_writing)
        with pytest.raises(StopRequested):
            if change == "rename":
                refine_run(finished.run_dir, Rename("Red", "Warm"), context=ctx)
            else:
                undo_run(finished.run_dir, context=ctx)
    meta = json.loads((finished.run_dir / "run.json").read_text())
    assert len(meta["versions"]) == 2 and meta["pending_action"]  # Continue is offered for it
    done = resume_run(finished.run_dir, context=fake_context())
    label = "rename 'Red' to 'Warm'" if change == "rename" else "undo: back to version 1"
    assert done.version == 3 and done.results["history"][-1] == label
    assert "pending_action" not in json.loads((finished.run_dir / "run.json").read_text())
    expected = {"Warm", "Cool"} if change == "rename" else {"Red", "Green", "Blue"}
    assert set(done.results["cluster_names"]) == expected


def test_a_twin_moves_with_the_first_image_of_its_content(colour_images, tmp_path):
    """The changes of a merge found from the state (graph/versions.py clusters_before) are those the two
    versions' results.csv give, also for a file whose content repeats another's (it shares its records)."""
    import shutil

    paths, _ = colour_images
    twin = tmp_path / "twin.png"
    shutil.copyfile(paths[0], twin)
    ctx = fake_context()
    first = start_run([*paths, str(twin)], make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    cluster = next(r["cluster"] for r in first.rows if r["image"] == paths[0])
    other = next(n for n in first.results["cluster_names"] if n != cluster)
    merged = refine_run(first.run_dir, Merge((cluster, other), other), context=fake_context())  # the twin moves
    assert any(m["image"] == str(twin) for m in merged.changes["moved"])
    assert merged.changes == versions.diff_from(versions.version_clusters(first.run_dir, 1), merged.rows)


@pytest.mark.parametrize("change", ["rename 'Red' to 'Warm'", "undo: back to version 1"])
def test_a_change_named_but_never_written_is_not_recorded_by_continue(finished, change):
    """A process killed after run.json names the pending change and before the change is written (graph/refine.py
    refine_run, _back_to): the state is the last version's, so Continue records no version under that name."""
    meta = json.loads((finished.run_dir / "run.json").read_text())
    meta["pending_action"] = change  # what the killed process left: the name, no update_state
    (finished.run_dir / "run.json").write_text(json.dumps(meta))
    done = resume_run(finished.run_dir, context=fake_context())
    after = json.loads((finished.run_dir / "run.json").read_text())
    assert "pending_action" not in after and len(after["versions"]) == 1
    assert done.results["history"] == ["first run"] and set(done.results["cluster_names"]) == {"Red", "Green", "Blue"}


def test_the_state_after_a_rename_and_a_merge_is_what_a_fresh_read_gives(finished, monkeypatch):
    """The history kept by RunSaver.reusing_history is shared with the channels LangGraph builds from it: after
    a rename and after a merge, every field of the state the refinement's own saver reads, and of the state it
    wrote its outputs from, equals a fresh read by a new saver, and equals the state of the same changes made
    with nothing kept (on a copy of the run)."""
    import contextlib
    import shutil

    from ictc.graph.checkpointer import RunSaver

    plain = finished.run_dir.with_name("nothing-kept")
    shutil.copytree(finished.run_dir, plain)
    seen = []
    finish = RunSession.finish

    def finish_and_read(self, action, known=None):
        seen.append((known.state, dict(self.graph.get_state(self.config).values)))  # this session's own saver
        return finish(self, action, known)

    for change in (Rename("Red", "Warm"), Merge(("Green", "Blue"), "Cool")):
        with monkeypatch.context() as patch:
            patch.setattr(RunSession, "finish", finish_and_read)
            refine_run(finished.run_dir, change, context=fake_context())
        with monkeypatch.context() as patch:
            patch.setattr(RunSaver, "reusing_history", lambda self: contextlib.nullcontext())
            refine_run(plain, change, context=fake_context())
        known, own = seen.pop()
        fresh, reference = run_state(finished.run_dir), run_state(plain)
        assert set(fresh) == set(own) == set(reference) and "assignments" in fresh and "naming" in fresh
        for field in fresh:
            assert own[field] == fresh[field] == reference[field], field
            if field in known:
                assert known[field] == fresh[field], field


def test_the_history_is_kept_for_the_thread_that_asked_only(finished, history_reads):
    """reusing_history keeps what it read in a ContextVar: another thread on the same saver (LangGraph's
    workers, a second job) reads the database as usual."""
    from ictc.graph.session import open_run
    from ictc.graph.versions import load_meta

    with open_run(finished.run_dir, load_meta(finished.run_dir), fake_context()) as session:
        with session.saver.reusing_history():
            session.graph.get_state(session.config)
            session.graph.get_state(session.config)
            assert len(history_reads) == 1
            other = threading.Thread(target=session.graph.get_state, args=(session.config,))
            other.start()
            other.join()
            assert len(history_reads) == 2
        session.graph.get_state(session.config)  # the block ended: nothing is kept
        assert len(history_reads) == 3
