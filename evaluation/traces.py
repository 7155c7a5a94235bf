"""Reading a run's node traces (traces.jsonl, one line per model answer, written by graph/run.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

STEP_ORDER = ("describe", "label", "name_clusters", "assign")


TRACE_BUFFER = 1 << 20  # bytes buffered before traces.jsonl is written to: each write lets other threads
# take the GIL, and the stream loop waited for it again at every 8 KiB (~60 us per trace, cProfile)


def trace_lines(event: dict[str, Any], version: int) -> bytes:
    """The traces.jsonl lines (UTF-8, one JSON object each, with "version" first) of a graph stream event:
    its "traces" list (nodes/common.py batch_traces) or its single "trace" record; b"" when it has neither.
    Serialised by orjson (non-ASCII kept as is, like json.dumps(ensure_ascii=False); a float NaN becomes null)."""
    records = event["traces"] if "traces" in event else [event["trace"]] if "trace" in event else []
    return b"".join(orjson.dumps({"version": version, **record}, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
                    for record in records)


def read_traces(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every trace record in the order written; a torn last line (a killed process) is skipped."""
    path = Path(run_dir) / "traces.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text("utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def current_traces(records: list[dict[str, Any]], image: str | None = None,
                   version: int | None = None) -> dict[str, dict[str, Any]]:
    """The answer each step holds for `image` (None: Step 2b, run-wide) as of `version` (None: latest):
    the last record per step, since a refinement re-traces only the steps it redid."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("image") == image and (version is None or record["version"] <= version):
            latest[record["step"]] = record
    return {step: latest[step] for step in STEP_ORDER if step in latest}


NO_MODEL = "no model"  # in a trace's model field: the answer came from a rule (e.g. the raw label), not a call


def pass_summary(records: list[dict[str, Any]]) -> dict[int, dict[str, dict[str, int]]]:
    """Per version, per step: answers from a model call ("called"), from the store ("cached"), and, when
    there are any, decided by a rule without a call ("ruled": e.g. an image whose raw label is a name)."""
    summary: dict[int, dict[str, dict[str, int]]] = {}
    for record in records:
        step = summary.setdefault(record["version"], {}).setdefault(record["step"], {"called": 0, "cached": 0})
        if NO_MODEL in str(record.get("model", "")):
            step["ruled"] = step.get("ruled", 0) + 1
        else:
            step["cached" if record["cached"] else "called"] += 1
    return summary
