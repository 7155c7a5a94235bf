"""The shapes a 200 chat answer takes on real servers, brought to one: text content, reasoning kept apart, and
an error or an empty choice list said as what it is (README "Servers and their quirks")."""

from __future__ import annotations

import json
from typing import Any

from ictc.models.quirks import error_response, refusal_of, status_response
from ictc.models.reasoning import has_reasoning, strip_reasoning
from ictc.models.stray_text import strip_end_tokens

# parts of a content list that are the model's reasoning (Mistral's Magistral "thinking" chunks, Anthropic-style
# "reasoning" parts), never the answer
REASONING_PARTS = frozenset({"thinking", "reasoning", "redacted_thinking"})
PART_TYPES = REASONING_PARTS | {"text", "output_text"}
REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM, DeepSeek / OpenRouter, Ollama >= 0.12


def _part_text(part: Any) -> str:
    """The text of one content part: a string, {"text": str}, or a part whose "thinking" is itself a list of parts."""
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    for key in ("text", "thinking", "reasoning", "content"):
        value = part.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return "".join(_part_text(p) for p in value)
    return ""


def _is_part(value: dict[str, Any]) -> bool:
    """True when `value` (a dict content) is one content part ({"type": "text", "text": ...}), not a JSON answer."""
    kind = value.get("type")
    return kind in PART_TYPES or (kind is None and set(value) <= {"text"})


def flatten_content(message: dict[str, Any]) -> None:
    """`message` (a chat answer's message, in place) with its content as one string or None: a list of parts
    (Mistral's API: [{"type": "thinking", ...}, {"type": "text", "text": "red"}]) becomes its text parts joined,
    its reasoning parts go to `reasoning_content` (added to what is there); any other non-text content is None.
    A list content had crashed the run (AttributeError 'list' object has no attribute 'strip')."""
    content = message.get("content")
    if content is None or isinstance(content, str):
        return
    if isinstance(content, dict) and not _is_part(content):  # a JSON-mode answer sent as a JSON object: that answer
        message["content"] = json.dumps(content)  # (its names had been lost to the fallback, silently)
        return
    if isinstance(content, dict):  # one part alone
        content = [content]
    if not isinstance(content, list):
        message["content"] = None
        return
    thinking = [_part_text(p) for p in content if isinstance(p, dict) and p.get("type") in REASONING_PARTS]
    text = [_part_text(p) for p in content if not (isinstance(p, dict) and p.get("type") in REASONING_PARTS)]
    message["content"] = "".join(text)
    if any(t.strip() for t in thinking):
        before = message.get("reasoning_content")
        message["reasoning_content"] = "\n".join([before, *thinking] if isinstance(before, str) and before else thinking)


def reasoning_as_answer(choice: dict[str, Any]) -> None:
    """A `choice` (in place) whose content is empty but whose reasoning field holds a finished answer (vLLM with a
    reasoning parser and a model that never closes its block: the whole answer lands in reasoning_content, the
    finish reason "stop") gets that text as its content. Not when the token cap ended it (finish_reason
    "length"): that reasoning was cut before any answer and the call is sent again with room (quirks.clean)."""
    message = choice.get("message") or {}
    content = message.get("content")
    if (isinstance(content, str) and content.strip()) or message.get("tool_calls"):
        return
    if choice.get("finish_reason") == "length":
        return
    said = next((v for f in REASONING_FIELDS if isinstance(v := message.get(f), str) and v.strip()), "")
    if said:
        message["content"] = strip_reasoning(said).strip() or said.strip()


def tool_call_as_answer(message: dict[str, Any]) -> None:
    """A `message` (in place) with empty content whose answer came as a tool call (a server that turns a JSON
    schema into a function call: {"tool_calls": [{"function": {"arguments": "{\"names\": [...]}"}}]}) gets the
    first call's arguments as its content, which the steps read as JSON. The names had been lost (fallback)."""
    content, calls = message.get("content"), message.get("tool_calls")
    if (isinstance(content, str) and content.strip()) or not isinstance(calls, list) or not calls:
        return
    function = calls[0].get("function") if isinstance(calls[0], dict) else None
    arguments = function.get("arguments") if isinstance(function, dict) else None
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments)
    if isinstance(arguments, str) and arguments.strip():
        message["content"] = arguments


def text_as_message(choice: dict[str, Any]) -> None:
    """A `choice` (in place) in the completions shape, its answer in `text` and no `message` (koboldcpp's older
    OpenAI shim, some text-generation-webui builds), gets that text as its message's content. Every image had
    failed as "the VLM returned an empty description"."""
    if "message" not in choice and isinstance(choice.get("text"), str):
        choice["message"] = {"role": "assistant", "content": choice["text"]}
    elif not isinstance(choice.get("message"), dict) and isinstance(choice.get("delta"), dict):
        choice["message"] = dict(choice["delta"])  # a whole answer in the chunk shape: its text had been unread


def in_index_order(answer: dict[str, Any]) -> None:
    """`answer`'s choices (in place) with the one of index 0 first: a server listing them out of order had every
    image read from choice 1 ("unclear"). Choices without an index keep their order."""
    choices = answer.get("choices")
    if isinstance(choices, list) and len(choices) > 1 and all(isinstance(c, dict) for c in choices):
        choices.sort(key=lambda c: c["index"] if type(c.get("index")) is int else len(choices))


def normalize_answer(answer: dict[str, Any]) -> None:
    """Every choice of a chat completion `answer` (in place) with a message (text_as_message), text content
    (flatten_content) without end-of-turn tokens left at its end (stray_text.strip_end_tokens), an answer
    left only in the reasoning field read from there (reasoning_as_answer), or in a tool call's arguments; the
    choice of index 0 first (in_index_order), an answer in the chunk shape (`delta`) read as its message."""
    in_index_order(answer)
    for choice in answer.get("choices") or []:
        if isinstance(choice, dict):
            text_as_message(choice)
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            flatten_content(choice["message"])
            if isinstance(content := choice["message"].get("content"), str):
                choice["message"]["content"] = strip_end_tokens(content)
            tool_call_as_answer(choice["message"])
            reasoning_as_answer(choice)


def error_in_body(answer: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """(status, error body) for a 200 `answer` that is an error and holds no choice (OpenRouter's
    {"error": {"message": "Provider returned error", "code": 502}} when the provider behind it failed): the
    status is the error's own code when it is an HTTP error status, else 502 (a proxy's upstream failed), so a
    5xx is retried as any other. None for an answer with choices."""
    error = answer.get("error") or (answer if answer.get("object") == "error" else None)  # vLLM's error shape
    if not error or answer.get("choices"):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    status = int(code) if isinstance(code, int | str) and str(code).isdigit() and 400 <= int(code) <= 599 else 502
    return status, {"error": error if isinstance(error, dict) else {"message": str(error)}}


def no_choice_reason(answer: dict[str, Any]) -> str:
    """Why a 200 `answer` with an empty or no `choices` list holds no answer, in words ("" when it has choices):
    Azure's prompt filter (prompt_filter_results names the categories filtered), else that the server sent none."""
    if answer.get("choices"):
        return ""
    filtered = []
    for result in answer.get("prompt_filter_results") or []:
        for category, verdict in ((result or {}).get("content_filter_results") or {}).items():
            if isinstance(verdict, dict) and verdict.get("filtered"):
                severity = verdict.get("severity")
                filtered.append(f"{category}{f' ({severity})' if isinstance(severity, str) else ''}")
    if filtered:
        return f"the server's content filter refused this request's prompt: {', '.join(filtered)}"
    return "the server answered with no choice at all ('choices' empty or missing)"


SERVER_CAP = "a cap on answer length set on the server itself"  # nodes/watch.py finds it in a failure's words
SERVER_CAP_FIX = ("raise the server's own cap on answer length, or remove it (llama.cpp: -n / --n-predict, -1 for "
                  "none; Ollama: PARAMETER num_predict in the Modelfile, -1 for none; LM Studio: the "
                  "model's Limit Response Length setting); if the prompt and image fill the server's context "
                  "instead, give it a longer one (llama.cpp -c, Ollama num_ctx)")  # llama.cpp ends a full one so too


def server_cut(answer: dict[str, Any], cap: int | None) -> tuple[int, int] | None:
    """(tokens answered, `cap` asked) when a normalized `answer` was cut by a cap of the server's own, else None: its
    first choice ended by the token cap (finish_reason "length") after fewer than half the `cap` tokens ictc asked
    for (usage.completion_tokens; without usage its characters, which are at least its tokens). Not an empty answer
    nor one with reasoning (reasoning counts against the cap: quirks.clean gives it room), nor a cap under 4
    (Step 3's one-token calls).

    Why: a llama.cpp server started with `-n 1` cut every answer at one token; the run ended with exit 0,
    descriptions "A" and every image in "other", and nothing said why."""
    def mapping(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    choice = mapping((answer.get("choices") or [{}])[0])
    message, usage = mapping(choice.get("message")), mapping(answer.get("usage"))
    content, details = message.get("content"), mapping(usage.get("completion_tokens_details"))
    if (choice.get("finish_reason") != "length" or cap is None or cap < 4 or not isinstance(content, str)
            or not content.strip() or has_reasoning(content) or details.get("reasoning_tokens")
            or any(message.get(field) for field in REASONING_FIELDS)):
        return None
    used = usage.get("completion_tokens")
    used = used if type(used) is int and used > 0 else len(content)
    return None if used * 2 >= cap else (used, cap)


def cut_said(used: int, cap: int) -> str:
    """An answer cut at `used` tokens of the `cap` asked, by the server's own cap (server_cut), in words."""
    return (f"the server cut the answer after {used} of the {cap} tokens ictc asked for (finish_reason length): "
            f"{SERVER_CAP} (llama.cpp -n, Ollama num_predict, LM Studio's response length limit); raise it")


def cut_by_server(answer: dict[str, Any], cap: int | None) -> str:
    """Why a normalized `answer` was cut by a cap of the server's own, in words (cut_said); "" when it was not
    (server_cut)."""
    cut = server_cut(answer, cap)
    return cut_said(*cut) if cut else ""


def unusable_answer(answer: dict[str, Any], request: Any, cap: int | None = None) -> Any | None:
    """A 200 chat `answer` (a dict, normalized in place: normalize_answer) checked for a usable answer: None when
    it has one; else the response (httpx) to stand for it, for `request`: the error its body is (error_in_body;
    a 5xx retried), or a 400 not retried naming the refusal (quirks.refusal_of), the missing choices
    (no_choice_reason) or the server's own cap that cut it (server_cut, `cap`: the tokens the request asked
    for), so the image fails with that reason, not as "returned an empty description" or as a cut answer."""
    if (failed := error_in_body(answer)) is not None:
        return status_response(request, *failed, retry=True)
    normalize_answer(answer)
    if refused := refusal_of(answer) or no_choice_reason(answer):
        return error_response(request, refused, "refusal")
    if cut := server_cut(answer, cap):  # the counts go as fields, for the stop's words (nodes/watch.py)
        return error_response(request, cut_said(*cut), "server_cap", {"cut_at": cut[0], "asked": cut[1]})
    return None
