"""Step 1: the VLM describes each image, with the criterion in its prompt."""

from __future__ import annotations

from typing import Any

from ictc.graph.context import Context
from ictc.graph.state import BatchTask
from ictc.nodes.common import Timer, call_each, failure, report, to_messages
from ictc.prompts import Criterion, prompt_hash, render
from langgraph.runtime import Runtime

from ictc.images import ImageError, load_rgb, to_data_uri


def describe(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    criterion = Criterion.from_dict(task["criterion"])
    rendered = render("describe", criterion)
    descriptions: dict[str, dict[str, Any]] = {}
    failures: dict[str, dict[str, str]] = {}
    paths, conversations = [], []
    for item in task["items"]:
        try:  # decoded one by one and dropped after encoding: the folder is never held in memory
            uri = to_data_uri(load_rgb(item["path"], ctx.settings.image_max_side))
        except ImageError as exc:
            failures[item["path"]] = failure("describe", exc)
            continue
        paths.append(item["path"])
        conversations.append(to_messages(rendered, uri))
    with Timer() as timer:
        replies = call_each(ctx.vlm, conversations, max_tokens=ctx.settings.description_max_tokens) if paths else []
    for path, reply in zip(paths, replies, strict=True):
        if isinstance(reply, BaseException):
            failures[path] = failure("describe", reply)
        elif not reply:
            failures[path] = {"step": "describe", "reason": "the VLM returned an empty description"}
        else:
            descriptions[path] = {"text": reply, "seconds": timer.seconds / len(paths),
                                  "prompt_hash": prompt_hash(rendered)}
    report("describe", advance=len(task["items"]), failed=len(failures))
    return {"descriptions": descriptions, "failures": failures}
