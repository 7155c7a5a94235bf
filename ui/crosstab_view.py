"""The chat app's panels for issue 21: how K was chosen, the "other" group, the tree of a coarser level,
and several criteria (add one to the current run; the cross-tab of any two as counts and a heat map)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from ictc.evaluation.crosstab import (
    GROUP_FILE,
    criterion_results,
    crosstab,
    heat_map_png,
    read_group,
)
from ictc.evaluation.groupings import KINDS_BY, categories_said, kinds_said, tree_lines


def grouping(results: dict[str, Any]) -> None:
    """How K was chosen (the candidates and their reasons), the "other" group's size, the labels that joined their kind
    by WordNet (naming.label_kinds), the categories changed from the LLM's (naming.categories_dropped), the levels tree."""
    choice = results.get("k_choice")
    if choice and "chosen" in choice:
        others = [c["k"] for c in choice["proposal"]["candidates"] if c["k"] != choice["chosen"]]
        another = f' Another candidate is one message away, e.g. "use {others[0]} groups".' if others else ""
        st.markdown(f"**K = {choice['chosen']}** ({'the best proposed' if choice['by'] == 'best' else 'your pick'})."
                    + another)  # not a fixed "use 2 groups": that was the K in force when 2 was taken
        for candidate in choice["proposal"]["candidates"]:
            score = f", silhouette {candidate['silhouette']:.3f}" if candidate.get("silhouette") is not None else ""
            st.markdown(f"- K={candidate['k']}{score}: " + ("; ".join(candidate["reasons"]) or "next best silhouette"))
    if "other" in results:
        st.markdown(f"**other** (none of the names fits): {results['other']['size']} image(s)")
    if kinds := kinds_said(results, "→"):  # had been said only in results.json and route "kind"
        st.markdown(f"**Labels joined as their kind** ({KINDS_BY}; their images went to its cluster): {kinds}")
    if moved := categories_said(results, "→"):  # naming.categories_dropped had been said only in results.json
        st.markdown("**Categories changed from the LLM's** (WordNet's kinds; label: the LLM's → the one used): " + moved)
    if results.get("tree"):
        st.markdown("**Levels**")
        st.markdown("\n".join(f"{'    ' * depth}- **{name}** ({size}): {', '.join(said)}"
                               for depth, name, size, said in tree_lines(results["tree"])))  # every level


def criteria(session: Any, run_dir: Path) -> None:
    """Add a criterion to the current run (a job, models shared), and the cross-tab of two criteria."""
    with st.form("add-criterion", clear_on_submit=True):
        text = st.text_input("Also group these images by", key="add-criterion-text")
        k = st.text_input("K (a number, or auto)", value="auto", key="add-criterion-k")
        submitted = st.form_submit_button("Add this criterion", disabled=session.busy)
    if submitted and text.strip():
        _add(session, run_dir, text.strip(), k.strip())
    if not (run_dir / GROUP_FILE).is_file():
        st.caption("One criterion so far: add another to compare them.")
        return
    names = [e["name"] for e in read_group(run_dir)["criteria"] if (run_dir / e["run"] / "results.json").is_file()]
    if len(names) < 2:
        return
    left, right = st.columns(2)
    first = left.selectbox("Rows", names, index=0, key="crosstab-rows")
    second = right.selectbox("Columns", names, index=1, key="crosstab-columns")
    if first == second:  # a criterion against itself is no cross-tab (two_criteria refuses it at the terminal)
        st.caption("Choose two different criteria to compare them.")
        return
    tab = crosstab(criterion_results(run_dir, first), criterion_results(run_dir, second))
    st.dataframe({"": tab.rows, **{c: [row[j] for row in tab.counts] for j, c in enumerate(tab.columns)}},
                 hide_index=True)
    st.image(heat_map_png(tab))


def _add(session: Any, run_dir: Path, text: str, k: str) -> None:
    from ictc.graph.criteria import CriterionRequest, add_criterion
    from ictc.prompts import make_criterion

    if k.lower() != "auto" and not k.isdigit():
        st.error(f"K must be a number or auto, not {k!r}")
        return
    request = CriterionRequest(make_criterion(text), "auto" if k.lower() == "auto" else int(k))
    session._launch(f"add criterion {text!r}", lambda on_event, stop: add_criterion(
        run_dir, request, on_event=on_event, context=session._with_stop(stop)))
    st.rerun()


def grouping_tab(session: Any, results: dict[str, Any], run_dir: Path) -> None:
    """The "Grouping" tab (ui/app.py TABS): how K was chosen, the "other" group, the labels joined as their kind,
    the levels tree."""
    if not (results.get("k_choice") or "other" in results or results.get("tree")):
        st.caption('K was given. Say "how many groups would you suggest?", "put the rest in other" or '
                   '"group them into 2 broader groups".')
    grouping(results)


def criteria_tab(session: Any, results: dict[str, Any], run_dir: Path) -> None:
    """The "Criteria" tab (ui/app.py TABS): add a criterion to the run, and cross-tabs of two criteria."""
    criteria(session, run_dir)
