"""Answers sent as an event stream to a request that asked for one JSON body (`stream: false`): some servers
always stream (chat.completion.chunk events, with `: keep-alive` comment lines, with or without `data: [DONE]`),
and some routers send the JSON body with a stray `data: [DONE]` after it. Both had stopped a run with
"Expecting value: line 1 column 1" or "Extra data"; here they are read as the chat completion they carry."""

from __future__ import annotations

import json
import re
from typing import Any

# a stray SSE terminator after a body (decolua/9router#3492), with the blank lines around it
_DONE_TAIL = re.compile(r"(\s*data:\s*\[DONE\]\s*)+$")
_FIELD = re.compile(r"(data|event|id|retry)(:|$)")  # the field lines of an event stream (WHATWG's SSE)


def looks_like_stream(body: bytes) -> bool:
    """True when `body` (a response body) is an event stream: its first non-blank line is a `data:` field or a
    `:` comment."""
    text = body.lstrip()[:64].decode("utf-8", "replace")
    return text.startswith((":", "data:"))


def stream_answer(body: bytes) -> dict[str, Any] | None:
    """The chat completion `body` carries when it is a JSON object followed by `data: [DONE]`, or an event
    stream of chat.completion.chunk events (their deltas joined per choice: text fields concatenated, the
    last finish_reason, logprobs' content lists joined, the last usage) or of one whole chat.completion. None when
    it is neither (a stream holding no chunk, an error event, a body that is no JSON). Never raises."""
    text = body.decode("utf-8", "replace")
    head = _DONE_TAIL.sub("", text).strip()
    if head.startswith("{"):
        try:
            whole = json.loads(head)
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            return whole
    events = _events(text)
    if not events or any("error" in event or not isinstance(event.get("choices"), list) for event in events):
        return None
    return _joined(events)


def _events(text: str) -> list[dict[str, Any]]:
    """The JSON objects of the stream's `data:` events, in order (`[DONE]` and comments skipped); [] when a line
    is no SSE field or an event's data is no JSON object."""
    events: list[dict[str, Any]] = []
    data: list[str] = []
    for line in [*text.splitlines(), ""]:
        if not line.strip():  # a blank line ends an event
            payload = "\n".join(data).strip()
            data = []
            if not payload or payload == "[DONE]":
                continue
            try:
                event = json.loads(payload)
            except ValueError:
                return []
            if not isinstance(event, dict):
                return []
            events.append(event)
        elif line.startswith(":"):
            continue  # a comment: `: keep-alive`, `: OPENROUTER PROCESSING`
        elif not _FIELD.match(line):
            return []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


def _joined(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One chat.completion from its chunks (or from one whole chat.completion event); None when none has a choice."""
    choices: dict[int, dict[str, Any]] = {}
    answer: dict[str, Any] = {key: value for key, value in events[0].items() if key != "choices"}
    answer["object"] = "chat.completion"
    for event in events:
        if event.get("usage"):
            answer["usage"] = event["usage"]
        for part in event["choices"]:
            if not isinstance(part, dict):
                continue
            choice = choices.setdefault(part.get("index", 0) or 0, {"index": part.get("index", 0) or 0,
                                                                    "message": {"role": "assistant"},
                                                                    "finish_reason": None})
            delta = part.get("delta") or part.get("message") or {}
            message = choice["message"]
            for key, value in delta.items():
                if isinstance(value, str) and key != "role":
                    message[key] = (message.get(key) or "") + value
                elif key not in message or message[key] is None:
                    message[key] = value
            if part.get("finish_reason") is not None:
                choice["finish_reason"] = part["finish_reason"]
            logprobs = part.get("logprobs")
            if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
                kept = choice.setdefault("logprobs", {"content": []})
                kept["content"].extend(logprobs["content"])
    answer["choices"] = [choices[index] for index in sorted(choices)]
    return answer if choices else None


def parsed_answer(body: bytes) -> Any:
    """`body` (a successful response's body of any content type) as JSON, else as the chat completion an event
    stream carries (`stream_answer`). Raises json.JSONDecodeError for a body that is neither, a ValueError
    saying so plainly for an event stream that carries no chat completion."""
    try:
        return json.loads(body)
    except ValueError:
        if (answer := stream_answer(body)) is not None:
            return answer
        if looks_like_stream(body):
            raise ValueError("the server answered with an event stream (SSE) holding no chat completion, to a "
                             "request that asked for one JSON body (stream: false)") from None
        raise
