"""What every step node does the same way: build messages, call a model over a batch, report progress."""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.config import get_stream_writer

from ictc.core.images import shown_text
from ictc.models.reasoning import strip_reasoning
from ictc.nodes.context import RECOVERABLE_ERRORS, Context
from ictc.nodes.state import BatchTask

StepNode = Callable[[BatchTask, Any], dict[str, dict[str, Any]]]

_MESSAGE = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


def to_messages(rendered: list[tuple[str, str]], image_uri: str | None = None) -> list[BaseMessage]:
    """(role, text) pairs -> LangChain messages; an image goes with the last user message."""
    messages: list[BaseMessage] = [_MESSAGE[role](content=text) for role, text in rendered]
    if image_uri is not None:
        last = messages[-1]
        messages[-1] = HumanMessage(content=[{"type": "text", "text": last.content},
                                             {"type": "image_url", "image_url": {"url": image_uri}}])
    return messages


def text_of(reply: Any) -> str:
    """A model reply's text (a message or its content; list content has its text parts joined), stripped,
    without any reasoning block (models/reasoning.py): reasoning never becomes a description, a label or
    a name, whichever backend answered."""
    content = reply.content if hasattr(reply, "content") else reply
    if isinstance(content, list):
        content = " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return strip_reasoning(str(content)).strip()


def in_batches(node: StepNode, prefetch: Callable[[BatchTask, Any], dict[str, Any]] | None = None) -> StepNode:
    """A task carries a chunk of several batches (graph/build.py); its batches go to the context's call
    pool (nodes/context.py), which every task of the step shares: each pool thread takes the next batch
    as soon as its call returns, so `concurrency` calls stay in flight until the step runs out of work
    (before, each task ran its batches one after another and a slow batch held the ones behind it).
    Each batch's answers are stored by the node as they land; the per-image results are merged.
    The first exception of a batch is raised at once; the chunk's batches not yet started are dropped
    (those running finish and store their answers). `prefetch(task, runtime)`, when given, runs once
    per chunk and its fields are added to every batch (one store lookup for the chunk, not one per batch)."""

    @functools.wraps(node)
    def run(task: BatchTask, runtime: Any) -> dict[str, dict[str, Any]]:
        size = runtime.context.settings.resolved_batch_size()
        shared = {**task, **(prefetch(task, runtime) if prefetch is not None else {})}
        batches: list[BatchTask] = [{**shared, "items": task["items"][start:start + size]}  # type: ignore[typeddict-item]
                                    for start in range(0, len(task["items"]), size)]
        if len(batches) == 1:
            return node(batches[0], runtime)
        # each batch in a copy of this task's context: progress and traces reach the graph's stream
        futures = [runtime.context.pool.submit(contextvars.copy_context().run, node, batch, runtime)
                   for batch in batches]
        merged: dict[str, dict[str, Any]] = {}
        try:
            for future in futures:
                for field, results in future.result().items():
                    merged.setdefault(field, {}).update(results)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return merged

    return run


def call_each(ctx: Context, model: Any, conversations: list[list[BaseMessage]], **kwargs: Any) -> list[str | BaseException]:
    """One batched call; an item whose call fails in a recoverable way comes back as its exception.

    Returns one reply text or exception per conversation, in order. When the batch fails as a whole,
    each conversation is retried alone to find the failing ones. Unrecoverable errors propagate."""
    try:
        with ctx.model_call():
            return [text_of(r) for r in model.batch(conversations, **kwargs)]
    except RECOVERABLE_ERRORS as exc:
        if len(conversations) == 1:
            return [exc]
    # the batch failed as a whole: find out which items fail on their own
    return [_single(ctx, model, c, **kwargs) for c in conversations]


def _single(ctx: Context, model: Any, conversation: list[BaseMessage], **kwargs: Any) -> str | BaseException:
    try:
        with ctx.model_call():
            return text_of(model.invoke(conversation, **kwargs))
    except RECOVERABLE_ERRORS as exc:
        return exc


def failure(step: str, exc: BaseException) -> dict[str, str]:
    """The failure record of an image: {"step": step, "reason": "<ExceptionType>: <first line, <= 300 chars>"}."""
    # a message may quote a file name that is not UTF-8: outputs stay valid UTF-8 (core/images.py)
    text = shown_text(str(exc)).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return {"step": step, "reason": f"{type(exc).__name__}: {reason[:300]}"}


def _emit(event: dict[str, Any]) -> None:
    try:
        writer = get_stream_writer()
    except RuntimeError:  # a node called directly (tests, notebooks)
        return
    writer(event)


def report(step: str, **fields: Any) -> None:
    """A custom stream event; the CLI turns these into progress bars. Silent outside a graph run."""
    _emit({"step": step, **fields})


def prompt_text(rendered: list[tuple[str, str]]) -> str:
    """A rendered prompt's (role, text) pairs as one readable text, each part under a "[role]" line (traces)."""
    return "\n".join(f"[{role}]\n{text}" for role, text in rendered)


def trace(step: str, image: str | None, prompt: str, output: Any, model: str, seconds: float, cached: bool,
          **extra: Any) -> None:
    """One model answer as the user may inspect it: the filled prompt, the output, who answered, how long
    it took, whether it came from the store. graph/run.py writes these to the run's traces.jsonl."""
    _emit({"trace": {"step": step, "image": image, "prompt": prompt, "output": output, "model": model,
                     "seconds": round(seconds, 4), "cached": cached, **extra}})


class Timer:
    """A `with` block's wall time: `seconds` (float, perf_counter) is set on exit, also when it raises."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
