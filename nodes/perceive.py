"""The fairness audit's model calls: the VLM's perception of one attribute per image (its own prompt,
answers stored apart from the descriptions, never read by Steps 1-3), and the LLM's value proposal."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from langgraph.runtime import Runtime

from ictc.core.images import ImageError, data_uri_of, load_rgb
from ictc.nodes.common import Timer, call_each, failure, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context, recoverable_errors
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key

UNCLEAR = "unclear"
ANSWER_MAX_TOKENS = 12
MAX_VALUES = 6
VALUES_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"values": {"type": "array", "items": {"type": "string"}}},
                                 "required": ["values"], "additionalProperties": False}


def attribute_prompt(attribute: str, values: list[str]) -> list[tuple[str, str]]:
    """The filled audit_attribute prompt: constrained to `values` (+ unclear), or open when values is []."""
    choices = (f"Answer with exactly one of: {', '.join([*values, UNCLEAR])}." if values
               else f"Answer in one to three words, or {UNCLEAR} if the picture does not show it.")
    return render("audit_attribute", Criterion(attribute), attribute=attribute, choices=choices)


def clean_answer(text: str) -> str:
    """The form answers and values are compared in: the first line, lower case, punctuation but "-" dropped,
    spaces collapsed, at most 40 characters ("65+" -> "65", "A woman." -> "a woman")."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return " ".join(re.sub(r"[^\w\s-]", " ", first.lower()).split())[:40]


def constrain(raw: str, values: list[str]) -> str:
    """The answer as one of `values` or "unclear", by a stated rule: the cleaned answer equal to a value
    (case and punctuation ignored); else the one value that appears in it as a whole word or phrase
    ("a woman" -> woman; "man" is not found inside "woman"; one found only inside a longer one found is left out:
    "a young adult" -> young adult, not adult); else unclear (none, or several, appear).
    With no values (an open question) the cleaned answer itself."""
    answer = clean_answer(raw)
    if not values:
        return answer or UNCLEAR
    lowered = {clean_answer(v): v for v in values}  # in the answer's form: "65+" had never matched its own answer
    if answer in lowered:
        return lowered[answer]
    found = [low for low in lowered if _has_phrase(answer, low)]
    # a value found only inside a longer one found ("adult" in "a young adult", values adult and young adult) is
    # that one's part, not a second answer: it had read unclear
    found = [low for low in found if not any(other != low and _has_phrase(other, low) for other in found)]
    return lowered[found[0]] if len(found) == 1 else UNCLEAR


def _has_phrase(text: str, phrase: str) -> bool:
    """Whether `phrase` appears in `text` as whole words ("man" is not in "woman", nor in "man-made")."""
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text) is not None


def perceive(task: dict[str, Any], runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the VLM for task["attribute"] on each of task["items"] (path, sha256), answered as one of
    task["values"] (or open when []). Answers are kept in the step cache under step "audit", keyed by the
    image content, the VLM and the filled prompt, so a second audit makes no call. Returns
    {"answers": {path: {value, raw}}, "failures": {path: {step, reason}}}."""
    ctx = runtime.context
    values = list(task["values"])
    rendered = attribute_prompt(task["attribute"], values)
    shown = prompt_text(rendered) + "\n[image]"
    answers: dict[str, dict[str, str]] = {}
    failures: dict[str, dict[str, str]] = {}
    keys = {i["path"]: step_key("audit", ctx.vlm_id, rendered, image=i["sha256"],
                                image_max_side=ctx.settings.image_max_side, max_tokens=ANSWER_MAX_TOKENS)
            for i in task["items"]}
    paths, conversations, stored = [], [], 0
    for item in task["items"]:
        if (hit := ctx.cached(keys[item["path"]])) is not None:
            hit = {"value": constrain(hit["raw"], values), "raw": hit["raw"]}  # read by today's rule, not the stored one
            answers[item["path"]] = hit
            stored += 1
            trace("audit", item["path"], shown, hit["value"], ctx.vlm_id, 0.0, cached=True, raw=hit["raw"])
            continue
        try:
            uri = data_uri_of(load_rgb(item["path"], ctx.settings.image_max_side, ctx.settings.max_pixels), item["path"])
        except ImageError as exc:
            failures[item["path"]] = failure("audit", exc)
            continue
        paths.append(item["path"])
        conversations.append(to_messages(rendered, uri))
    with Timer() as timer:
        replies = call_each(ctx, ctx.vlm, conversations, max_tokens=ANSWER_MAX_TOKENS) if paths else []
    for path, reply in zip(paths, replies, strict=True):
        if isinstance(reply, BaseException):
            failures[path] = failure("audit", reply)
            trace("audit", path, shown, failures[path]["reason"], ctx.vlm_id, timer.seconds / len(paths),
                  cached=False, failed=True)
            continue
        answer = {"value": constrain(reply, values), "raw": reply}
        ctx.remember(keys[path], "audit", answer)
        answers[path] = answer
        trace("audit", path, shown, answer["value"], ctx.vlm_id, timer.seconds / len(paths), cached=False, raw=reply)
    report("audit", advance=len(task["items"]), failed=len(failures), stored=stored, calls=len(paths))
    return {"answers": answers, "failures": failures}


def propose_values(state: dict[str, Any], runtime: Runtime[Context]) -> dict[str, Any]:
    """The LLM proposes 2..MAX_VALUES values for state["attribute"] from the VLM's open answers on a
    sample (state["answers"]). An unusable proposal (not JSON, fewer than two values) is replaced by
    the stated rule: the most frequent open answers other than unclear. Returns {"proposal": [...]}."""
    ctx = runtime.context
    attribute = state["attribute"]
    heard = Counter(a["value"] for a in state.get("answers", {}).values() if a["value"] != UNCLEAR)
    listing = "\n".join(f"- {value}: {count}" for value, count in heard.most_common()) or "- (none)"
    rendered = render("audit_values", Criterion(attribute), attribute=attribute, answers=listing,
                      max_values=MAX_VALUES)
    key = step_key("audit_values", ctx.llm_id, rendered)
    proposal, calls, content = ctx.cached(key), 0, ""
    if proposal is None:
        from ictc.models.structured import parse_json_object

        try:
            with Timer() as timer, ctx.model_call():
                content, _ = ctx.llm_json.invoke(to_messages(rendered), VALUES_SCHEMA, "values", max_tokens=120)
        except recoverable_errors() as exc:
            content = f"{type(exc).__name__}: {exc}"
        calls = 1
        data = parse_json_object(content) or {}
        proposal = _usable(data.get("values"))
        if len(proposal) < 2:  # the stated rule: the sample's own most frequent answers
            proposal = [value for value, _ in heard.most_common(MAX_VALUES)]
        else:
            ctx.remember(key, "audit_values", proposal)
        trace("audit_values", None, prompt_text(rendered), content, ctx.llm_id, timer.seconds, cached=False)
    report("audit_values", advance=1, calls=calls, stored=1 - calls)
    return {"proposal": proposal}


def _usable(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    cleaned = [clean_answer(str(v)) for v in values]
    return list(dict.fromkeys(v for v in cleaned if v and v != UNCLEAR))[:MAX_VALUES]
