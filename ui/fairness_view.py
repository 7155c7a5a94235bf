"""The Fairness tab: the current version's audits (chart, table, before/after), a form to audit by an
attribute, and the suggested fix with what it redoes. The work runs as the session's job (ui/fairness.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from ictc.evaluation.audit import NOTE, read_audits, slug
from ictc.ui import fairness


def panel(session: Any, run_dir: Path, results: dict[str, Any]) -> None:
    """Draw the tab for `session` (ui.session.Session) on the run in `run_dir` whose results.json is `results`."""
    st.caption(NOTE)
    with st.form("audit-form"):
        attribute = st.text_input("Attribute", value="perceived gender", key="audit-attribute")
        values = st.text_input("Values (comma-separated; empty: proposed from a sample)", key="audit-values")
        threshold = st.number_input("Flag a cluster whose disparity is over", 0.01, 0.99, 0.10, 0.01, key="audit-threshold")
        if st.form_submit_button("Audit", disabled=session.busy):
            try:
                chosen = fairness.check_values(attribute, values) if values.strip() else None
                fairness.start_audit(session, attribute.strip(), chosen, float(threshold))
                st.rerun()
            except ValueError as exc:
                st.error(str(exc))
    audits = read_audits(run_dir) if _audited_version(run_dir) == results["version"] else {}
    if not audits:
        st.info(f"Version {results['version']} has not been audited yet. Ask in the chat, e.g. "
                "\"is this biased by gender?\", or use the form above.")
        return
    for attribute, audit in audits.items():
        st.subheader(attribute)
        chart = run_dir / f"audit-{slug(attribute)}.png"
        if chart.is_file():
            st.image(str(chart))
        st.markdown(fairness.audit_markdown(audit))
        if audit.get("comparison"):
            st.markdown(fairness.comparison_markdown(audit))
        if audit.get("fix"):
            _fix(session, run_dir, audit)


def _fix(session: Any, run_dir: Path, audit: dict[str, Any]) -> None:
    text = audit["fix"]["instruction"]
    steps = ["assign", "name_clusters", "label", "describe", "all"]  # first: the suggested one (not yet given there)
    step = st.selectbox("Step for the instruction", steps, index=steps.index(audit["fix"].get("step", "assign")),
                        key=f"fix-step-{slug(audit['attribute'])}")
    redo = fairness.fix_redo(run_dir, text, step)
    if not redo.startswith("redoes"):  # in force at that step already (a fix applied and still flagged)
        st.info(f"{', '.join(audit['fix']['clusters'])} still flagged: {redo}. Choose an earlier step above.")
        return
    st.write(f"Suggested fix for {', '.join(audit['fix']['clusters'])}: *{text}* — {redo}.")
    if st.button("Apply the fix and audit again", key=f"fix-{slug(audit['attribute'])}", disabled=session.busy):
        fairness.start_fix(session, audit, step)
        st.rerun()


def _audited_version(run_dir: Path) -> int | None:
    path = run_dir / "audit.json"
    return json.loads(path.read_text("utf-8")).get("version") if path.is_file() else None
