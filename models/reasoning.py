"""Reasoning blocks in answers: reasoning models put their thinking before the answer when no reasoning parser
is set on the server (Ollama, vLLM, llama.cpp); the answer is what follows. Each model family marks the block
its own way (the markers below, from their chat templates)."""

from __future__ import annotations

import re

from ictc.models.stray_text import strip_end_tokens

# Where a reasoning block opens and closes, by family: Qwen3 / DeepSeek-R1 / QwQ <think>, others <thinking>,
# <reasoning>, <thought>; ByteDance Seed-OSS <seed:think>; Mistral Magistral [THINK]; OpenThinker / Sky-T1
# <|begin_of_thought|>; Kimi-VL-Thinking ◁think▷; <|thinking|>; gpt-oss's harmony format, whose analysis
# channel is the reasoning and ends with <|end|>; Cohere Command A <|START_THINKING|>; IBM Granite 3.2
# "Here is my thought process: ... Here is my response:"; ServiceNow Apriel "Here are my reasoning steps: ...
# [BEGIN FINAL RESPONSE]".
_OPEN = re.compile(r"<(?:think|thinking|reasoning|thought|seed:think)>|\[THINK\]|<\|begin_of_thought\|>|◁think▷|"
                   r"<\|thinking\|>|<\|channel\|>\s*analysis\s*<\|message\|>|<\|START_THINKING\|>|"
                   r"^\s*Here (?:is my thought process|are my reasoning steps):", re.IGNORECASE)
_CLOSE = re.compile(r"</(?:think|thinking|reasoning|thought|seed:think)>|\[/THINK\]|<\|end_of_thought\|>|◁/think▷|"
                    r"<\|/thinking\|>|<\|end_thinking\|>|<\|end\|>|<\|END_THINKING\|>|Here is my response:|"
                    r"\[BEGIN FINAL RESPONSE\]", re.IGNORECASE)
_CLOSED = re.compile(rf"(?:{_OPEN.pattern}).*?(?:{_CLOSE.pattern})", re.IGNORECASE | re.DOTALL)
# what wraps the answer itself: removed, the answer kept (Granite 3.3 <response>, GLM-4.1V and Hunyuan <answer>,
# GLM-4.5V <|begin_of_box|>, Cohere <|START_RESPONSE|>, Apriel [END FINAL RESPONSE])
_WRAPS = re.compile(r"<\|begin_of_solution\|>|<\|end_of_solution\|>|<\|start\|>\s*assistant|"
                    r"<\|channel\|>\s*final\s*<\|message\|>|<\|return\|>|</?(?:response|answer)>|"
                    r"\[END FINAL RESPONSE\]|<\|(?:START|END)_RESPONSE\|>|<\|(?:begin|end)_of_box\|>", re.IGNORECASE)


def has_reasoning(text: str) -> bool:
    """True when `text` holds a reasoning marker (opening or closing) or an answer wrapper of a reasoning format."""
    return bool(_OPEN.search(text) or _CLOSE.search(text) or _WRAPS.search(text))


def strip_reasoning(text: str) -> str:
    """`text` without its reasoning: closed blocks removed; anything before a lone closing marker removed
    (DeepSeek-R1's template opens the block in the prompt); an unclosed block (cut by a token cap or a stop
    sequence) removed to the end, since what follows it is reasoning too; the answer's own wrappers
    (<|begin_of_solution|>, harmony's final channel) removed. Text without markers is returned as is."""
    if not has_reasoning(text):
        return text
    # an end-of-turn token the server left at the end (Apriel's "<|end|>") closes no reasoning
    text = strip_end_tokens(text.rstrip())
    text = _CLOSED.sub("", text)
    if (close := list(_CLOSE.finditer(text))):
        text = text[close[-1].end():]
    if (opened := _OPEN.search(text)):
        text = text[:opened.start()]
    return _WRAPS.sub("", text).strip()


def cut_inside_reasoning(text: str) -> bool:
    """True when `text` opens a reasoning block that never closes: the answer was cut before it began."""
    rest = _CLOSED.sub("", text)
    return bool(_OPEN.search(rest)) and not _CLOSE.search(rest[_OPEN.search(rest).end():])  # type: ignore[union-attr]


def opens_reasoning(token: str) -> bool:
    """True when a first answer token is (the start of) a reasoning marker: "<think>", "<think", "[THINK]",
    "<|channel|>", "◁think▷", "<|START_THINKING|>", or "Here" (Granite's "Here is my thought process:", Apriel's
    "Here are my reasoning steps:"); the answer proper comes after the reasoning."""
    return bool(re.match(r"(?:<\|?|\[|◁)\s*(?:think|thinking|reasoning|thought|seed:think|begin_of_thought|channel|"
                         r"start_thinking)\b|here$", token.strip(), re.IGNORECASE))
