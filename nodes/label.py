"""Step 2a: the LLM gives each description a short raw label under the criterion.

Small models drift into sentences, so the call is capped (tokens, a newline stop), the answer is
cleaned, a label longer than `label_max_words` is re-asked once, and then cut to that many words."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from langgraph.runtime import Runtime

from ictc.models.stray_text import without_invisible
from ictc.models.structured import parse_json_object
from ictc.nodes.common import Timer, call_each, failure, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context
from ictc.nodes.label_counts import normalize_label
from ictc.nodes.label_levels import ask_levels
from ictc.nodes.state import BatchTask
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key

_PREFIX = re.compile(r"^\s*(answer|label|category|criterion)\s*[:\-]\s*", re.IGNORECASE)
_MARKED = re.compile(r"^\s*\**(?:final\s+)?(?:answer|label|category)\**\s*:\**\s*", re.IGNORECASE)


# a tool call written as text: Qwen/Hermes <tool_call>, Mistral [TOOL_CALLS], Llama 3.x <function=NAME> and
# <|python_tag|>
_TOOL_TAG = re.compile(r"</?tool_call>|<\|tool_call\|>|\[TOOL_CALLS\]|<function=[\w.-]*>|</function>|"
                       r"<\|python_tag\|>", re.IGNORECASE)
# an explanation after the label on its line ("green - the image is a plain square"): a dash with spaces around
_EXPLAINED = re.compile(r"\s+[-\u2013\u2014]\s+")


def _called_label(text: str) -> str | None:
    """The label inside a tool call written as text (Qwen without a tool parser: '<tool_call>{"name": "label",
    "arguments": {"label": "red"}}</tool_call>') or a JSON object answer ({"label": "red"}): the "label" (else
    "answer", "category") value, else the first string value. "" for a bare tag with nothing readable after it
    (no answer: re-asked as an empty one is); None when `text` is neither."""
    tagged = bool(_TOOL_TAG.search(text))
    if not tagged and not text.lstrip().startswith("{"):
        return None
    parsed = parse_json_object(_TOOL_TAG.sub(" ", text))
    if parsed is None:
        return "" if tagged else None
    values = parsed.get("arguments", parsed)
    if isinstance(values, str):
        values = parse_json_object(values) or {}
    if not isinstance(values, dict):
        return ""
    keyed = next((values[k] for k in ("label", "answer", "category") if isinstance(values.get(k), str)), None)
    return keyed if keyed is not None else next((v for v in values.values() if isinstance(v, str)), "")


def clean_label(text: str) -> str:
    """The answer's line, without an 'Answer:' prefix, quotes, list markers or closing punctuation: the first line,
    unless a later one is marked as the answer ("Answer: red", "Final Answer: red") or the first only announces it
    ("Sure! Here is the label:" then "red"); every image's label had been such a preamble, all in one cluster.
    A tool call or JSON object gives its label (`_called_label`); an explanation after " - " is cut off, as one
    on the next line is ("green - the image is a plain square" had been the label "green - the image is"). A BOM
    and zero-width characters go (stray_text.without_invisible, the cleaning Step 2b's names get too)."""
    text = without_invisible(text)
    if (called := _called_label(text)) is not None:
        text = called
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    marked = [ln for ln in lines[1:] if _MARKED.match(ln)]
    line = (marked[-1] if marked else lines[1] if len(lines) > 1 and lines[0].rstrip().endswith(":") else
            lines[0] if lines else "")
    line = _MARKED.sub("", line)
    line = _PREFIX.sub("", line)
    line = re.sub(r"^[\s\-*\d.)]+(?=\w)", "", line)
    line = _EXPLAINED.split(line.strip(), maxsplit=1)[0]
    return line.strip().strip("\"'`*“”‘’«»").rstrip(".!,;:").strip()  # curly and angle quotes too


@cache
def _instruction_text(template: str, criterion_text: str) -> str:
    """Template `template` (Step 2a's prompt) for a criterion worded `criterion_text`, without the description,
    preset hint or instructions, normalized as _words does (one space between words, a space at each end)."""
    rendered = render(template, Criterion(criterion_text), step="label", description="")
    return " " + " ".join(_words(" ".join(text for _, text in rendered))) + " "


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def label_template(label_levels: str) -> str:
    """The template Step 2a asks with under setting `label_levels`: "label_levels" for "json", else "label"."""
    return "label_levels" if label_levels == "json" else "label"


# a full stop after these is no end of sentence ("Mr. Smith", "a 3.5 in. drive", "St. Paul's"); nor after a word with a
# full stop inside ("e.g.", "U.S.") or a single letter (an initial: "J. R. R. Tolkien")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "mt", "ft", "vs", "etc", "approx",
                            "no", "in", "lb", "lbs", "oz", "cm", "mm", "km", "fig", "inc", "ltd", "co", "ave"})
_CLOSING = "\"'”’)]»"  # closing quotes and brackets after an end of sentence: 'reads "STOP." A cat ...'
_WIDE_END = re.compile(r"[。！？]")  # ends of sentence of Chinese and Japanese, no space after them


def _ends_sentence(token: str, last: bool) -> bool:
    """Whether a whitespace-separated `token` of a description ends a sentence (`last`: the description's last)."""
    bare = token.rstrip(_CLOSING)
    if not bare.endswith((".", "!", "?")):
        return False
    word = bare.rstrip(".!?")
    if last or bare[-1] != "." or bare.endswith(".."):
        return True
    return not ("." in word or len(word) == 1 or word.lower() in _ABBREVIATIONS)


def several_sentences(description: str) -> bool:
    """Whether `description` has two or more sentences (ends of sentence: ".", "!" or "?", with any closing quote or
    bracket, before a space or the end; not the full stop of an abbreviation, "Mr. Smith walks his dog.", "A 3.5 in.
    floppy disk.", "e.g.", or of an initial; "。", "！" and "？" anywhere). Step 2a's worked example (label_example)
    is for these only: a one-line caption ("A goat.", "Tennis racquet and ball.") names what it is about, and with
    the example Qwen 0.5B labelled such captions worse ("thing" for "Hibiscus.", "apple" for "Pineapple."): on four
    draws of emoji captions 0.938 / 0.938 / 0.950 / 0.983 fell to 0.875 / 0.896 / 0.900 / 0.900 (README "Quality
    with small models", fourteenth pass)."""
    tokens = description.split()
    ends = sum(_ends_sentence(token, i == len(tokens) - 1) for i, token in enumerate(tokens))
    return ends + len(_WIDE_END.findall(description)) >= 2


def label_prompt(template: str, criterion: Criterion, description: str, example: bool) -> list[tuple[str, str]]:
    """Step 2a's prompt (template `template`, label_template) for one image `description`, as (role, text) pairs;
    with `example` (setting label_example, for a description of several sentences) and the plain template, the
    worked example of prompts/label_example.txt (another criterion, "activity", about a description that also
    mentions a smaller thing, and its answer) is a user turn and its answer before the question. Raises KeyError
    as render does.

    Why: Qwen 0.5B labelled the smaller object a description mentions ("a toy airplane on a shelf" for a cat)
    for up to 8 of 20 CIFAR photos; with the example the labels' purity rose to 1.00 on seven of eight
    descriptions (README "Quality with small models", fourteenth pass)."""
    rendered = render(template, criterion, step="label", description=description)
    if not example or template != "label":
        return rendered
    return rendered[:1] + render("label_example", criterion, step="label") + rendered[1:]


def echoes_prompt(label: str, description: str, criterion: Criterion, template: str = "label",
                  example: bool = False) -> bool:
    """Whether a Step-2a `label` repeats the instructions instead of reading the image: two or more words found,
    in order, in Step 2a's prompt `template` (system and question with the criterion, outside the description)
    and not in `description`. One word is never an echo (a count "three" may be an answer), nor a part of the
    criterion that is not the whole of it: "outdoor scene" for the criterion "indoor scene or outdoor scene" is
    one of the values the user named. The whole criterion ("kind of thing") is an echo. With `example` (setting
    label_example), the worked example's answer ("laughing") is an echo too for a description it was shown with
    (several_sentences) that does not say it.

    Why: Qwen 0.5B answered "no sentence" (the system prompt's "no sentence, no explanation") for captions it
    did not know ("A ketch.", "A wig.", "A third base."); counted as a label, that phrase took one of the K
    names (via its category "noun"), and a true class had none (README "Quality with small models")."""
    words = _words(label)
    if example and several_sentences(description) and words == _example_answer() and not _within(words, description):
        return True  # the worked example's answer, parroted (SmolLM2-135M: "laughing" for 12 of 20 CIFAR photos)
    if len(words) < 2:
        return False
    phrase = " " + " ".join(words) + " "
    named = " " + " ".join(_words(criterion.text)) + " "
    if phrase in named and phrase != named:
        return False
    return phrase in _instruction_text(template, criterion.text) and not _within(words, description)


def _within(words: list[str], text: str) -> bool:
    """Whether `words` occur in `text` in order, next to each other (both read by _words)."""
    return " " + " ".join(words) + " " in " " + " ".join(_words(text)) + " "


def shows_example(prompt: str) -> bool:
    """Whether `prompt`, a Step-2a prompt as traced (nodes/common.prompt_text), holds the worked example of
    prompts/label_example.txt. Why: the trace of a run about "kind of object" opens on a question about "activity"
    and a child laughing, which read as another run's prompt until the Traces tab said what it is."""
    return prompt_text(render("label_example", Criterion("x"), step="label")) in prompt


@cache
def _example_answer() -> list[str]:
    """The words of the answer of Step 2a's worked example (prompts/label_example.txt's assistant turn)."""
    return _words(" ".join(text for role, text in render("label_example", Criterion("x"), step="label")
                           if role == "assistant"))


def without_echoes(records: list[dict[str, Any]], texts: list[str], criterion: Criterion, template: str,
                   example: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Step-2a `records` but those whose label repeats Step 2a's prompt `template` (nodes/label.echoes_prompt,
    read against each image's description in `texts`, in the same order), and the distinct echoed labels,
    sorted. When no record with a non-empty label is left, all are kept (names must come from something;
    Step 2b then works as before) and none is reported."""
    echoes = [echoes_prompt(r.get("raw", ""), text, criterion, template, example)
              for r, text in zip(records, texts, strict=True)]
    kept = [r for r, echo in zip(records, echoes, strict=True) if not echo]
    if not any(normalize_label(r.get("raw", "")) for r in kept):
        return records, []
    return kept, sorted({r.get("raw", "") for r, echo in zip(records, echoes, strict=True) if echo})


def word_count(label: str) -> int:
    """Number of whitespace-separated words in `label`."""
    return len(label.split())


def label(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """Step 2a (IC|TC, Kwon et al. 2024) on one batch: each item's description gets a raw label under the
    criterion; answers already in the step cache are reused, new ones stored.

    Returns {"labels": path -> raw, reasked, seconds, calls; "failures": path -> step, reason}. A recoverable
    model error or an empty label fails that image only."""
    ctx = runtime.context
    settings = ctx.settings
    criterion = Criterion.from_dict(task["criterion"])
    limits = {"max_tokens": settings.label_max_tokens, "max_words": settings.label_max_words}
    labels: dict[str, dict[str, Any]] = {}
    todo = []
    # two levels in one JSON answer (label_levels=json); with "on" the plain labels get categories in Step 2b
    template = label_template(settings.label_levels)
    for item in task["items"]:
        example = settings.label_example == "on" and several_sentences(item["description"])
        rendered = label_prompt(template, criterion, item["description"], example)
        key = step_key("label", ctx.llm_id, rendered, **limits)
        if (hit := ctx.cached(key)) is not None:
            labels[item["path"]] = {**hit, "seconds": 0.0, "calls": 0}
            trace("label", item["path"], prompt_text(rendered), hit["raw"], ctx.llm_id, 0.0, cached=True)
        else:
            todo.append((item["path"], key, to_messages(rendered), prompt_text(rendered)))
    failures: dict[str, dict[str, str]] = {}
    with Timer() as timer:
        asks = [ask for _, _, ask, _ in todo]
        answers = ((ask_levels(ctx, asks, clean_label) if template == "label_levels" else _ask(ctx, criterion, asks))
                   if todo else [])
    ctx.watch.record("Step 2a (label)", "LLM", ctx.llm_id, [a for a in answers if isinstance(a, BaseException)],
                     sum(isinstance(a, dict) and bool(a["raw"]) for a in answers))
    for (path, key, _, shown), answer in zip(todo, answers, strict=True):
        if isinstance(answer, BaseException):
            trace("label", path, shown, failure("label", answer)["reason"], ctx.llm_id, timer.seconds / len(todo),
                  cached=False, failed=True)
        else:
            trace("label", path, shown, answer["raw"], ctx.llm_id, timer.seconds / len(todo), cached=False,
                  first_reply=answer["first_reply"], reasked=answer["reasked"])
        if isinstance(answer, BaseException):
            failures[path] = failure("label", answer)
        elif not answer["raw"]:
            failures[path] = {"step": "label", "reason": "the LLM returned an empty label"}
        else:
            kept = {"raw": answer["raw"], "reasked": answer["reasked"]}  # the first reply lives in the trace only
            if "category" in answer:
                kept["category"] = answer["category"]
            ctx.remember(key, "label", kept)
            labels[path] = {**kept, "seconds": timer.seconds / len(todo), "calls": 1 + answer["reasked"]}
    report("label", advance=len(task["items"]), failed=len(failures), stored=len(task["items"]) - len(todo),
           calls=sum(1 + a["reasked"] if isinstance(a, dict) else 1 for a in answers))
    return {"labels": labels, "failures": failures}


def _ask(ctx: Context, criterion: Criterion, asks: list[list]) -> list[dict[str, Any] | BaseException]:
    """One batched call; sentences re-asked once (batched), then cut to `label_max_words`.

    Returns per conversation either {"raw", "reasked", "first_reply"} or the exception its call raised."""
    settings = ctx.settings
    call = {"max_tokens": settings.label_max_tokens, "stop": ["\n"]}
    replies = call_each(ctx, ctx.llm, asks, **call)
    answers: list[dict[str, Any] | BaseException] = []
    too_long = []
    for index, (ask, reply) in enumerate(zip(asks, replies, strict=True)):
        if isinstance(reply, BaseException):
            answers.append(reply)
            continue
        raw = clean_label(reply)
        answers.append({"raw": raw, "reasked": False, "first_reply": reply})
        # (a reply that only announces its answer, "Here is the label:", cut there by the newline stop: asked again)
        if word_count(raw) > settings.label_max_words or not raw or reply.strip().endswith(":"):
            too_long.append((index, ask, reply, raw))
    if too_long:
        again = [ask + to_messages([("assistant", reply)]) + to_messages(
            render("label_too_long", criterion, step="label", answer=raw, max_words=settings.label_max_words))
            for _, ask, reply, raw in too_long]
        for (index, _, first, raw), reply in zip(too_long, call_each(ctx, ctx.llm, again, **call), strict=True):
            better = raw if isinstance(reply, BaseException) else clean_label(reply)
            if not better or word_count(better) > settings.label_max_words:
                better = " ".join((better or raw).split()[: settings.label_max_words])
            answers[index] = {"raw": better, "reasked": True, "first_reply": first}
    return answers
