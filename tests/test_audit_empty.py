"""An empty cluster in the fairness audit: listed in its table, said empty (it had been left out), and a fix that
empties a cluster says it empty after (it had shown only "-", as for a cluster that was not there)."""

from __future__ import annotations

from ictc.evaluation.audit import compare, compute_audit, format_comparison, format_table
from ictc.graph.audit import audit_run
from ictc.graph.run import start_run
from ictc.prompts import make_criterion
from ictc.ui.fairness import audit_markdown, comparison_markdown

from fakes import fake_context, make_marked_images


def test_an_empty_cluster_is_listed_in_the_audit_and_said_empty(tmp_path):
    paths = make_marked_images(tmp_path / "images", {("red", "black"): 2, ("red", "white"): 2, ("green", "white"): 2})
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx,
              names="Red,Green,Blue")
    audit = audit_run(tmp_path / "run", "perceived gender", "man, woman", context=fake_context()).audit
    assert [c["cluster"] for c in audit["clusters"]] == ["Red", "Green", "Blue"]  # the run's order, the empty one too
    blue = audit["clusters"][2]
    assert blue["n"] == 0 and blue["empty"] and not blue["flagged"]
    assert audit["summary"]["mean_disparity"] == (audit["clusters"][0]["disparity"] + 1.0) / 2  # not counted in it
    line = next(x for x in format_table(audit).splitlines() if x.startswith("Blue"))
    assert line.split() == ["Blue", "0", "-", "-", "0", "empty", "(no", "image)"]
    assert "| Blue | 0 | – | – | 0 | empty (no image) |" in audit_markdown(audit)
    assert "<td>Blue</td><td>0</td><td>-</td><td>-</td><td>0</td><td>empty (no image)</td>" in \
        (tmp_path / "run" / "report.html").read_text()


def test_a_cluster_a_fix_emptied_is_said_empty_after_not_absent():
    rows = [{"image": f"{i}.png", "cluster": "Red" if i < 3 else "Green", "status": "ok"} for i in range(5)]
    answers = {f"{i}.png": "man" if i % 2 else "woman" for i in range(5)}
    before = compute_audit(rows, answers, "perceived gender", ["man", "woman"], names=["Red", "Green"])
    after = compute_audit([{**r, "cluster": "Red"} for r in rows], answers, "perceived gender", ["man", "woman"],
                          names=["Red", "Green"])
    green = next(r for r in compare(before, after) if r["cluster"] == "Green")
    assert green["n_after"] == 0 and green["empty_after"] and green["after"] is None
    line = next(x for x in format_comparison(compare(before, after), "perceived gender").splitlines()
                if x.startswith("Green"))
    assert line.split()[:4] == ["Green", "2", "0", "0.0%"] and line.split()[4] == "empty", line
    assert "| Green | 0.0% | empty |" in comparison_markdown({"before": {"version": 1}, "version": 2,
                                                             "comparison": compare(before, after)})


def test_a_cluster_whose_images_are_all_unclear_is_said_unmeasured_before_and_after():
    """Red's images all 'unclear': its disparity is none (the table said "n/a (all unclear)"), but the before/after
    table said 0.0% on both sides, as a fair cluster, beside a mean that left it out."""
    rows = [{"image": f"{i}.png", "cluster": "Red" if i < 3 else "Green", "status": "ok"} for i in range(6)]
    answers = {f"{i}.png": "unclear" if i < 3 else "man" if i % 2 else "woman" for i in range(6)}
    before = compute_audit(rows, answers, "perceived gender", ["man", "woman"], names=["Red", "Green"])
    after = compute_audit(rows, {**answers, "0.png": "man"}, "perceived gender", ["man", "woman"], names=["Red", "Green"])
    red = next(r for r in compare(before, after) if r["cluster"] == "Red")
    assert red["before"] is None and red["unmeasured_before"] and red["after"] == 1.0, red
    line = next(x for x in format_comparison(compare(before, after), "perceived gender").splitlines()
                if x.startswith("Red"))
    assert line.split()[:6] == ["Red", "3", "3", "n/a", "(all", "unclear)"] and "100.0%" in line, line
    assert "pts" not in line, line  # no change from a disparity that was not measured
    assert "| Red | n/a (all unclear) | 100.0% |" in comparison_markdown({"before": {"version": 1}, "version": 2,
                                                                        "comparison": compare(before, after)})
