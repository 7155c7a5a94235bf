"""Step 2a: the LLM gives each description a short raw label under the criterion.

Small models drift into sentences, so the call is capped (tokens, a newline stop), the answer is
cleaned, a label longer than `label_max_words` is re-asked once, and then cut to that many words."""

from __future__ import annotations

import re
from typing import Any

from ictc.graph.context import Context
from ictc.graph.state import BatchTask
from ictc.nodes.common import Timer, call_each, failure, report, to_messages
from ictc.prompts import Criterion, render
from langgraph.runtime import Runtime

_PREFIX = re.compile(r"^\s*(answer|label|category|criterion)\s*[:\-]\s*", re.IGNORECASE)


def clean_label(text: str) -> str:
    """First line, without an 'Answer:' prefix, quotes, list markers or closing punctuation."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line)
    line = re.sub(r"^[\s\-*\d.)]+(?=\w)", "", line)
    return line.strip().strip("\"'`*").rstrip(".!,;:").strip()


def word_count(label: str) -> int:
    return len(label.split())


def label(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    settings = ctx.settings
    criterion = Criterion.from_dict(task["criterion"])
    items = task["items"]
    asks = [to_messages(render("label", criterion, description=i["description"])) for i in items]
    call = {"max_tokens": settings.label_max_tokens, "stop": ["\n"]}
    with Timer() as timer:
        replies = call_each(ctx.llm, asks, **call)
    labels: dict[str, dict[str, Any]] = {}
    failures: dict[str, dict[str, str]] = {}
    too_long = []
    for item, ask, reply in zip(items, asks, replies, strict=True):
        if isinstance(reply, BaseException):
            failures[item["path"]] = failure("label", reply)
            continue
        raw = clean_label(reply)
        labels[item["path"]] = {"raw": raw, "reasked": False}
        if word_count(raw) > settings.label_max_words or not raw:
            too_long.append((item["path"], ask, reply, raw))
    if too_long:
        again = [ask + to_messages([("assistant", reply)]) + to_messages(
            render("label_too_long", criterion, step="label", answer=raw, max_words=settings.label_max_words))
            for _, ask, reply, raw in too_long]
        second = call_each(ctx.llm, again, **call)
        for (path, _, _, raw), reply in zip(too_long, second, strict=True):
            better = raw if isinstance(reply, BaseException) else clean_label(reply)
            if not better or word_count(better) > settings.label_max_words:
                better = " ".join((better or raw).split()[: settings.label_max_words])
            labels[path] = {"raw": better, "reasked": True}
    for path in labels:
        labels[path]["seconds"] = timer.seconds / max(len(items), 1)
        if not labels[path]["raw"]:
            failures[path] = {"step": "label", "reason": "the LLM returned an empty label"}
    report("label", advance=len(items), failed=len(failures))
    return {"labels": {p: v for p, v in labels.items() if p not in failures}, "failures": failures}
