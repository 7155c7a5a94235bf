"""JSON answers from any chat model, in the best mode its server accepts.

Servers differ: OpenAI and vLLM take `json_schema`, some take only `json_object`, llama.cpp builds and
local models take plain text. We try in that order; a mode the server rejects (an error answer that names
the response format, e.g. llama-cpp-python's 500 "Input should be 'text' or 'json_object'") is remembered for
the rest of the run, so the probe costs one failed call, not one per image. Any other error (a context
length, a bad image) is that request's own: it is raised and fails that image, the mode stays."""

from __future__ import annotations

import ast
import json
import re
import threading
from typing import TYPE_CHECKING, Any

from ictc.models.quirks import names_output_mode
from ictc.models.reasoning import strip_reasoning

if TYPE_CHECKING:  # langchain_core costs a second to import; the chat app reads JSON answers before that
    from langchain_core.language_models.chat_models import BaseChatModel

MODES = ("json_schema", "json_object", "text")


def _rejected_by_server(exc: Exception) -> bool:
    """True when `exc` is a server's error answer that names the response format (models/quirks.py)."""
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    if status is None or status < 400:
        return False
    try:
        body = response.text if response is not None else ""
    except Exception:  # noqa: BLE001 (a body that cannot be read names nothing)
        body = ""
    return names_output_mode(body or str(exc))


def _cut_answer(exc: Exception) -> str | None:
    """The text of an answer the openai SDK refused to parse because the token cap ended it
    (LengthFinishReasonError carries the completion), else None."""
    completion = getattr(exc, "completion", None)
    try:
        content = completion.choices[0].message.content if completion is not None else None
    except (AttributeError, IndexError):
        return None
    return content if isinstance(content, str) else None


def loads_lenient(fragment: str) -> Any:
    """`fragment` read as JSON; failing that, without trailing commas ('"Blue",\n  ],\n}': models without a
    grammar write them), then as a Python literal (a dict's repr, single quotes: ast.literal_eval, which runs no
    code). Raises ValueError when it is none of these."""
    try:
        return json.loads(fragment)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(re.sub(r",(\s*[\]}])", r"\1", fragment))
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(fragment)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not JSON nor a Python literal: {fragment[:80]!r}") from exc


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text` (models wrap JSON in prose or code fences), read leniently
    (`loads_lenient`: trailing commas, a Python dict literal); None if there is none."""
    text = re.sub(r"```(?:json)?", "", text)
    start = text.find("{")
    while start != -1:
        depth = 0
        for end in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                try:
                    value = loads_lenient(text[start:end + 1])
                except ValueError:
                    break
                return value if isinstance(value, dict) else None
        start = text.find("{", start + 1)
    return None


class JsonCaller:
    """Calls one chat model for JSON; shared by every task of a run (thread-safe mode memory)."""

    def __init__(self, model: BaseChatModel | Any, supports_response_format: bool):
        self.model = model
        self._modes = list(MODES) if supports_response_format else ["text"]
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        """The output mode tried next: "json_schema", "json_object" or "text" (the first not yet refused)."""
        return self._modes[0]

    def invoke(self, messages: list, schema: dict[str, Any], name: str, **kwargs: Any) -> tuple[str, str]:
        """Asks for JSON matching `schema` (named `name`) in the current mode; returns (content without
        reasoning, mode used). A refusal of the mode moves to the next; any other error is raised."""
        while True:
            mode = self.mode
            extra = dict(kwargs)
            if mode == "json_schema":
                extra["response_format"] = {"type": "json_schema",
                                            "json_schema": {"name": name, "schema": schema, "strict": True}}
            elif mode == "json_object":
                extra["response_format"] = {"type": "json_object"}
            try:
                reply = self.model.invoke(messages, **extra)
            except Exception as exc:
                cut = _cut_answer(exc)
                if cut is not None:  # the cap ended the JSON answer: what came is still read (parse_json_object)
                    return strip_reasoning(cut), mode
                if mode != "text" and _rejected_by_server(exc):
                    with self._lock:
                        if self._modes[0] == mode:
                            self._modes.pop(0)
                    continue
                raise
            content = reply.content if isinstance(reply.content, str) else str(reply.content)
            return strip_reasoning(content), mode
