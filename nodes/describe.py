"""Step 1: the VLM describes each image, with the criterion in its prompt. Descriptions already in the
store for the same image content, VLM and prompt are reused without a call."""

from __future__ import annotations

import re
from typing import Any, cast

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
# a VLM that received no image (a text-only model behind the endpoint, a server without the vision projector) says so
# in words: "I don't see any image attached to your message", "no image was provided", "as a text-based AI ..."
NO_IMAGE = re.compile(r"\b(?:(?:do not|don'?t|did not|didn'?t|can ?not|can'?t|could not|couldn'?t|am unable to|"
                      r"I'?m unable to|unable to|not able to|no way to)\s+(?:see|view|access|open|perceive|process|"
                      r"look at|find|receive)\s+(?:the\s+|an?\s+|any\s+|your\s+)?(?:images?|pictures?|photos?|"
                      r"attachments?|attached)|no (?:image|picture|photo|attachment)s? (?:was |were |has been |have been "
                      r"|is |are )?(?:provided|attached|included|uploaded|shared|visible|present)|"
                      r"as an? text(?:-based|-only| based| only)? (?:AI|model|language model|assistant)|"
                      r"text-only (?:AI|model|assistant)|(?:upload|share|provide|attach) (?:the|an?) (?:image|picture|"
                      r"photo) (?:you|again|first))", re.IGNORECASE)
WORD = re.compile(r"\S+")
CHARS_PER_TOKEN = 8  # a description's bound in characters per token of its cap: generous (English has ~4), for
# answers without spaces (Chinese, Japanese) where words do not count


def bounded(text: str, cap: int) -> tuple[str, bool]:
    """(`text` cut at `cap` words and `cap` * CHARS_PER_TOKEN characters, True) when longer, else (`text`, False).
    A word is at least a token, so an answer the server cut at `cap` tokens is never cut here. Why: a server that
    ignored the cap (and the stop) had 12,012-word descriptions stored for a 160-token cap, silently."""
    if cap < 1:  # no cap asked: nothing to bound
        return text, False
    words = list(WORD.finditer(text, 0, cap * CHARS_PER_TOKEN + 1))
    end = words[cap - 1].end() if len(words) > cap else len(text)
    end = min(end, cap * CHARS_PER_TOKEN)
    return (text, False) if end >= len(text.rstrip()) else (text[:end].rstrip(), True)


def declined(reply: str) -> str:
    """The failure reason for a `reply` that is no description: a refusal (REFUSED) or words saying the VLM saw no
    image (NO_IMAGE), each short; "" for a description."""
    if len(reply) >= 400:
        return ""
    if NO_IMAGE.search(reply):
        return f"the VLM says it sees no image (does it receive images?): {reply.strip()[:200]}"
    if REFUSED.match(reply):  # a refusal in words had become the image's description
        return f"the VLM refused to describe it: {reply.strip()[:200]}"
    return ""


def _keys(task: BatchTask, ctx: Context) -> dict[str, str]:
    """Each item's Step-1 store key (image content, VLM, filled prompt, limits), by path."""
    settings = ctx.settings
    rendered = render("describe", Criterion.from_dict(task["criterion"]))
    limits = {"image_max_side": settings.image_max_side, "max_tokens": settings.description_max_tokens}
    return {i["path"]: step_key("describe", ctx.vlm_id, rendered, image=i["sha256"], **limits) for i in task["items"]}


def says_no_image(text: str) -> bool:
    """Whether a Step-1 answer says the VLM sees no image (a short refusal, not a description mentioning one)."""
    return bool(NO_IMAGE.search(text)) and len(text) < 400


EARLIER_TRIED = 64  # the earlier descriptions looked at for the same VLM's (nodes/watch.py seen_before)


def earlier_answers(state: dict[str, Any], ctx: Context, wanted: int) -> list[tuple[str, str, bool]]:
    """Up to `wanted` of Step 1's answers already in the run's `state` (an earlier pass's) that the VLM of `ctx` gave
    with this prompt and these limits (their store key is the one it would make: a VLM swapped since is not vouched
    for by its predecessor's answers), in the images' order, each as FailureWatch.seen takes them: (the image's
    content, its text, whether it says it sees no image)."""
    descriptions = state.get("descriptions") or {}
    if not descriptions:
        return []
    rendered = render("describe", Criterion.from_dict(state["criterion"]))
    limits = {"image_max_side": ctx.settings.image_max_side, "max_tokens": ctx.settings.description_max_tokens}
    found: list[tuple[str, str, bool]] = []
    tried = 0
    for item in state["images"]:
        made = descriptions.get(item["path"])
        if made and made.get("key") == step_key("describe", ctx.vlm_id, rendered, image=item["sha256"], **limits):
            text = made["text"]
            found.append((f"sha256:{item['sha256']}", text, says_no_image(text)))
        tried += bool(made)
        if len(found) >= wanted or tried >= EARLIER_TRIED:  # not every key of 250,000 images: those of another VLM
            break
    return found


def stored_descriptions(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """{"stored": key -> text} of the task's images already described in the store: one lookup for a
    whole chunk (nodes/common.py in_batches), where one per image cost ~0.6 ms of CPU each in Chroma."""
    ctx = runtime.context
    keys = list(_keys(task, ctx).values())
    return {"stored": ctx.descriptions.get(keys) if ctx.descriptions is not None else {}}


def all_stored(ctx: Context, criterion: dict[str, Any], items: list[dict[str, str]]) -> bool:
    """Whether each of `items` (path, sha256) has its Step-1 description under `criterion` (its dict form) in the
    store, so that Step 1 would read no image file (one lookup for all)."""
    if ctx.descriptions is None:
        return False
    keys = set(_keys(cast(BatchTask, {"criterion": criterion, "items": items}), ctx).values())
    return len(ctx.descriptions.get(list(keys))) == len(keys)


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
    looks: dict[str, str] = {}
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
        # what the picture looks like, in 64 grey pixels: copies of one picture (another format, a re-save) are not
        # "different images" to the watch of one same description (nodes/watch.py seen)
        looks[item["path"]] = img.convert("L").resize((8, 8)).tobytes().hex()
        if ctx.thumbnails is not None and _sharp_enough(settings.image_max_side):
            # the report's thumbnail from this decode (the report would decode the file again)
            ctx.thumbnails.add(item["sha256"], thumbnail_jpeg(img))
        paths.append(item["path"])
        conversations.append(to_messages(rendered, uri))
    with Timer() as timer:
        replies = call_each(ctx, ctx.vlm, conversations, max_tokens=settings.description_max_tokens) if paths else []
    ctx.watch.record("Step 1 (describe)", "VLM", ctx.vlm_id, [r for r in replies if isinstance(r, BaseException)],
                     sum(isinstance(r, str) and bool(r) for r in replies))
    ctx.watch.seen("Step 1 (describe)", ctx.vlm_id, [(looks[path], r, says_no_image(r))
                                                      for path, r in zip(paths, replies, strict=True)
                                                      if isinstance(r, str) and r])
    fresh = []
    for path, reply in zip(paths, replies, strict=True):
        seconds = timer.seconds / len(paths)
        trace("describe", path, shown, reply if isinstance(reply, str) else failure("describe", reply)["reason"],
              ctx.vlm_id, seconds, cached=False, failed=not isinstance(reply, str) or not reply)
        if isinstance(reply, BaseException):
            failures[path] = failure("describe", reply)
        elif not reply:
            failures[path] = {"step": "describe", "reason": "the VLM returned an empty description"}
        elif reason := declined(reply):
            failures[path] = {"step": "describe", "reason": reason}
        else:
            reply, cut = bounded(reply, settings.description_max_tokens)
            descriptions[path] = {"text": reply, "seconds": seconds, "prompt_hash": prompt_hash(rendered), "calls": 1,
                                  "key": keys[path], **({"cut": settings.description_max_tokens} if cut else {})}
            fresh.append((keys[path], reply, {"vlm": ctx.vlm_id, "sha256": sha[path],
                                                "prompt_hash": prompt_hash(rendered)}))
    if ctx.descriptions is not None:
        ctx.descriptions.put(fresh, embed=settings.index_descriptions == "eager")
    report("describe", advance=len(task["items"]), failed=len(failures), stored=len(descriptions) - len(fresh),
           calls=len(paths))
    return {"descriptions": descriptions, "failures": failures}
