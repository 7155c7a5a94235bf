"""Node traces: every step's filled prompt, output, model, latency and cache flag, per image and version."""

from __future__ import annotations

from ictc.evaluation.traces import current_traces, pass_summary, read_traces
from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.nodes.actions import AddInstruction
from ictc.prompts import make_criterion

from fakes import fake_context


def test_traces_hold_each_step_per_image_and_a_refinement_retraces_only_what_it_redid(colour_images, tmp_path):
    paths, _ = colour_images
    result = start_run(paths, make_criterion("colour"), 3, fake_context().settings, tmp_path / "run",
                       context=fake_context())
    records = read_traces(result.run_dir)
    first = current_traces(records, paths[0])
    assert list(first) == ["describe", "label", "assign"]
    assert "Criterion: colour" in first["label"]["prompt"] and first["label"]["model"] == "fake-llm"
    assert first["describe"]["output"].startswith("A plain square filled with red")
    assert first["describe"]["model"] == "fake-vlm" and not first["describe"]["cached"]
    assert first["assign"]["decided"] == result.rows[0]["cluster"] and first["assign"]["route"]
    assert current_traces(records, None)["name_clusters"]["output"] == result.results["cluster_names"]

    refine_run(result.run_dir, AddInstruction("Prefer warm colours.", "assign"), context=fake_context())
    records = read_traces(result.run_dir)
    assert pass_summary(records)[2] == {"assign": {"called": 8, "cached": 0}}
    now, before = current_traces(records, paths[0]), current_traces(records, paths[0], version=1)
    assert "Prefer warm colours." in now["assign"]["prompt"] and now["assign"]["version"] == 2
    assert "Prefer warm colours." not in before["assign"]["prompt"]
    assert now["describe"] == before["describe"]  # Step 1 was not redone: its trace is the first run's


def test_a_second_run_on_the_same_images_is_traced_as_from_the_store(colour_images, tmp_path):
    paths, _ = colour_images
    start_run(paths, make_criterion("colour"), 3, fake_context().settings, tmp_path / "a", context=fake_context())
    again = start_run(paths, make_criterion("colour"), 3, fake_context().settings, tmp_path / "b",
                      context=fake_context())
    summary = pass_summary(read_traces(again.run_dir))[1]
    assert all(step["called"] == 0 for step in summary.values()), summary
    assert summary["describe"]["cached"] == 8


def test_traces_are_compressed_and_a_killed_writer_s_lines_stay_readable_after_a_resume(tmp_path):
    """traces.jsonl.zst: a frame per pass, a block per flush. A killed pass leaves its frame unfinished (and
    maybe half a line): the next pass rewrites the flushed whole lines as a finished frame, then appends."""
    from ictc.evaluation.traces import TRACES, TraceWriter, trace_lines

    def lines(step, n):
        return trace_lines({"traces": [{"step": step, "image": f"img{i}", "prompt": "same prompt " * 20}
                                       for i in range(n)]}, 1)

    killed, finished = tmp_path / "killed", tmp_path / "finished"
    killed.mkdir()
    finished.mkdir()
    writer = TraceWriter(finished)
    writer.write(lines("describe", 50))
    writer.write(b'{"version": 1, "step": "lab')  # half a line, then the process dies
    writer.flush()
    (killed / TRACES).write_bytes((finished / TRACES).read_bytes())  # what a kill -9 leaves on disk
    (killed / (TRACES + ".open")).touch()
    writer.close()
    assert (finished / TRACES).stat().st_size < len(lines("describe", 50)) / 10

    with TraceWriter(killed) as resumed:
        resumed.write(lines("label", 3))
    records = read_traces(killed)
    assert [r["step"] for r in records] == ["describe"] * 50 + ["label"] * 3
    assert not (killed / (TRACES + ".open")).exists()
    with TraceWriter(killed) as again:  # a finished frame is appended to as it is
        again.write(lines("assign", 2))
    assert [r["step"] for r in read_traces(killed)][-3:] == ["label", "assign", "assign"]


def test_a_run_folder_s_plain_traces_of_earlier_versions_are_read_before_the_compressed_ones(tmp_path):
    from ictc.evaluation.traces import PLAIN, TraceWriter, trace_lines

    (tmp_path / PLAIN).write_text('{"version": 1, "step": "describe", "image": "a"}\n{"version": 1, "st')
    with TraceWriter(tmp_path) as writer:
        writer.write(trace_lines({"trace": {"step": "assign", "image": "a"}}, 2))
    assert [(r["version"], r["step"]) for r in read_traces(tmp_path)] == [(1, "describe"), (2, "assign")]


def test_after_going_back_to_a_version_an_image_shows_that_version_s_traces(colour_images, tmp_path):
    """Newcomer: after "go back to version 1" the image's Step-3 trace was the version just left (its
    instruction in the prompt), beside results that do not use it."""
    from ictc.evaluation.traces import image_traces, lineage, trace_overview
    from ictc.graph.refine import restore_run, undo_run

    paths, _ = colour_images
    result = start_run(paths, make_criterion("colour"), 3, fake_context().settings, tmp_path / "run",
                       context=fake_context())
    refine_run(result.run_dir, AddInstruction("Prefer warm colours.", "assign"), context=fake_context())  # v2
    restore_run(result.run_dir, 1, context=fake_context())  # v3: version 1's state
    back = image_traces(result.run_dir, paths[0])
    assert back["assign"]["version"] == 1 and "Prefer warm colours." not in back["assign"]["prompt"]
    assert trace_overview(result.run_dir)[1]["version"] == 1  # the naming shown is version 1's too
    refine_run(result.run_dir, AddInstruction("Mind the shade.", "assign"), context=fake_context())  # v4
    now = image_traces(result.run_dir, paths[0])
    assert now["assign"]["version"] == 4 and now["describe"]["version"] == 1
    undo_run(result.run_dir, context=fake_context())  # v5: back to v3, which is v1's state
    assert image_traces(result.run_dir, paths[0])["assign"]["version"] == 1
    versions = [{"version": 1}, {"version": 2}, {"version": 3, "restored_from": 1}, {"version": 4},
                {"version": 5, "restored_from": 3}]
    assert lineage(versions, 5) == {1} and lineage(versions, 4) == {1, 4} and lineage(versions, 6) == {1, 6}


def test_a_step_3_trace_shows_what_the_model_answered_and_apart_what_ictc_decided(tmp_path):
    """With the embedding prior the decision differs from the model's answer: the trace's output had been the
    decision ('red'), which the model never gave, beside Details' "Step 3 answer: 'green' -> Crimson"."""
    from dataclasses import replace

    from test_quality_levers import Leaning, Refuse

    from ictc.models.calibrated import LogprobChooser

    from fakes import make_images

    paths, labels = make_images(tmp_path / "img", {"red": 2, "green": 2, "blue": 2})
    ctx = replace(fake_context(assign_by_label="off", embedding_prior="on"),
                  chooser=LogprobChooser(Leaning(), fallback=Refuse()))
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", labels=str(labels),
                       context=ctx)
    records = read_traces(result.run_dir)
    overruled = [row for row in result.rows if row["route"] == "logprobs+embedding"]
    assert overruled
    for row in overruled:
        step3 = current_traces(records, row["image"])["assign"]
        assert (step3["output"], step3["decided"]) == (row["answer"], row["cluster"]) and row["answer"] != row["cluster"]

