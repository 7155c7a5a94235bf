"""Reasoning blocks in answers: Qwen3 / DeepSeek-R1 class models put `<think>...</think>` before the answer
when no reasoning parser is set on the server (Ollama, vLLM, llama.cpp); the answer is what follows."""

from __future__ import annotations

import re

_TAGS = "think|thinking|reasoning|thought"
_CLOSED = re.compile(rf"<({_TAGS})>.*?</\1>", re.IGNORECASE | re.DOTALL)
_OPEN = re.compile(rf"<({_TAGS})>", re.IGNORECASE)
_CLOSE = re.compile(rf"</({_TAGS})>", re.IGNORECASE)


def has_reasoning(text: str) -> bool:
    """True when `text` holds a reasoning tag (opening or closing)."""
    return bool(_OPEN.search(text) or _CLOSE.search(text))


def strip_reasoning(text: str) -> str:
    """`text` without its reasoning: closed blocks removed; anything before a lone closing tag removed
    (DeepSeek-R1's template opens the block in the prompt); an unclosed block (cut by a token cap or a stop
    sequence) removed to the end, since what follows it is reasoning too. Text without tags is returned as is."""
    if not has_reasoning(text):
        return text
    text = _CLOSED.sub("", text)
    if (close := list(_CLOSE.finditer(text))):
        text = text[close[-1].end():]
    if (opened := _OPEN.search(text)):
        text = text[:opened.start()]
    return text.strip()


def cut_inside_reasoning(text: str) -> bool:
    """True when `text` opens a reasoning block that never closes: the answer was cut before it began."""
    rest = _CLOSED.sub("", text)
    return bool(_OPEN.search(rest)) and not _CLOSE.search(rest[_OPEN.search(rest).end():])  # type: ignore[union-attr]
