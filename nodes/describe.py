"""Step 1: the VLM describes each image, with the criterion in its prompt. Descriptions already in the
store for the same image content, VLM and prompt are reused without a call."""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime

from ictc.core.images import ImageError, data_uri_of, load_rgb
from ictc.nodes.common import Timer, call_each, failure, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context
from ictc.nodes.state import BatchTask
from ictc.prompts import Criterion, prompt_hash, render
from ictc.store.keys import step_key
from ictc.store.thumbnails import SIDE as THUMBNAIL_SIDE
from ictc.store.thumbnails import thumbnail_jpeg

# a VLM that declines in words, with a 200 answer ("I'm sorry, but I can't help with describing this image.")
REFUSED = re.compile(r"\s*(?:I'?m sorry|I am sorry|sorry|I can(?:'|no)t|I am unable|I'm unable|I won'?t)\b[^.]{0,80}?"
                     r"\b(?:help|assist|describe|provide|comply|identify|analy[sz]e)\b", re.IGNORECASE)


def _keys(task: BatchTask, ctx: Context) -> dict[str, str]:
    """Each item's Step-1 store key (image content, VLM, filled prompt, limits), by path."""
    settings = ctx.settings
    rendered = render("describe", Criterion.from_dict(task["criterion"]))
    limits = {"image_max_side": settings.image_max_side, "max_tokens": settings.description_max_tokens}
    return {i["path"]: step_key("describe", ctx.vlm_id, rendered, image=i["sha256"], **limits) for i in task["items"]}


def stored_descriptions(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """{"stored": key -> text} of the task's images already described in the store: one lookup for a
    whole chunk (nodes/common.py in_batches), where one per image cost ~0.6 ms of CPU each in Chroma."""
    ctx = runtime.context
    keys = list(_keys(task, ctx).values())
    return {"stored": ctx.descriptions.get(keys) if ctx.descriptions is not None else {}}


def _sharp_enough(max_side: int | None) -> bool:
    """True if an image decoded at `max_side` px (None: full size) still has a report thumbnail's pixels."""
    return not max_side or max_side >= THUMBNAIL_SIDE


def describe(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """Step 1 (IC|TC, Kwon et al. 2024) on one batch: each item (path, sha256) is downscaled to
    `image_max_side` px and described by the VLM in one batched call; new descriptions go to the store,
    and, given the context's thumbnail cache, the report's thumbnail of each image decoded here.
    task["stored"], when present, holds the descriptions already stored (`stored_descriptions`).

    Returns {"descriptions": path -> text, seconds, prompt_hash, calls, key; "failures": path -> step, reason}.
    An unreadable image, a recoverable model error or an empty answer fails that image only."""
    ctx = runtime.context
    settings = ctx.settings
    rendered = render("describe", Criterion.from_dict(task["criterion"]))
    keys = _keys(task, ctx)
    stored = task["stored"] if "stored" in task else stored_descriptions(task, runtime)["stored"]
    descriptions: dict[str, dict[str, Any]] = {}
    failures: dict[str, dict[str, str]] = {}
    paths, conversations = [], []
    sha = {i["path"]: i["sha256"] for i in task["items"]}
    shown = prompt_text(rendered) + "\n[image]"
    for item in task["items"]:
        if keys[item["path"]] in stored:
            descriptions[item["path"]] = {"text": stored[keys[item["path"]]], "seconds": 0.0,
                                          "prompt_hash": prompt_hash(rendered), "calls": 0, "key": keys[item["path"]]}
            trace("describe", item["path"], shown, stored[keys[item["path"]]], ctx.vlm_id, 0.0, cached=True)
            continue
        try:  # decoded one by one and dropped after encoding: the folder is never held in memory
            img = load_rgb(item["path"], settings.image_max_side, settings.max_pixels)
        except ImageError as exc:
            failures[item["path"]] = failure("describe", exc)
            continue
        uri = data_uri_of(img, item["path"])
        if ctx.thumbnails is not None and _sharp_enough(settings.image_max_side):
            # the report's thumbnail from this decode (the report would decode the file again)
            ctx.thumbnails.add(item["sha256"], thumbnail_jpeg(img))
        paths.append(item["path"])
        conversations.append(to_messages(rendered, uri))
    with Timer() as timer:
        replies = call_each(ctx, ctx.vlm, conversations, max_tokens=settings.description_max_tokens) if paths else []
    ctx.watch.record("Step 1 (describe)", "VLM", ctx.vlm_id, [r for r in replies if isinstance(r, BaseException)],
                     sum(isinstance(r, str) and bool(r) for r in replies))
    fresh = []
    for path, reply in zip(paths, replies, strict=True):
        seconds = timer.seconds / len(paths)
        trace("describe", path, shown, reply if isinstance(reply, str) else failure("describe", reply)["reason"],
              ctx.vlm_id, seconds, cached=False, failed=not isinstance(reply, str) or not reply)
        if isinstance(reply, BaseException):
            failures[path] = failure("describe", reply)
        elif not reply:
            failures[path] = {"step": "describe", "reason": "the VLM returned an empty description"}
        elif REFUSED.match(reply) and len(reply) < 400:  # a refusal in words had become the image's description
            failures[path] = {"step": "describe", "reason": f"the VLM refused to describe it: {reply.strip()[:200]}"}
        else:
            descriptions[path] = {"text": reply, "seconds": seconds,
                                  "prompt_hash": prompt_hash(rendered), "calls": 1, "key": keys[path]}
            fresh.append((keys[path], reply, {"vlm": ctx.vlm_id, "sha256": sha[path],
                                                "prompt_hash": prompt_hash(rendered)}))
    if ctx.descriptions is not None:
        ctx.descriptions.put(fresh, embed=settings.index_descriptions == "eager")
    report("describe", advance=len(task["items"]), failed=len(failures), stored=len(descriptions) - len(fresh),
           calls=len(paths))
    return {"descriptions": descriptions, "failures": failures}
