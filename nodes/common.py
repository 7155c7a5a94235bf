"""What every step node does the same way: build messages, call a model over a batch, report progress."""

from __future__ import annotations

import contextvars
import functools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.config import get_stream_writer

from ictc.core.images import shown_text
from ictc.models.reasoning import strip_reasoning
from ictc.nodes.context import Context, recoverable_errors
from ictc.nodes.state import BatchTask

StepNode = Callable[[BatchTask, Any], dict[str, dict[str, Any]]]

# the traces of the batch being run (in_batches): they leave with its progress event, one stream event a batch
_BATCH_TRACES: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar("ictc_batch_traces",
                                                                                          default=None)
# the task's gatherer of its batches' progress events (in_batches with several batches)
_TASK_EVENTS: contextvars.ContextVar[TaskEvents | None] = contextvars.ContextVar("ictc_task_events", default=None)
FLUSH_SECONDS = 0.05  # a task's merged progress is sent once this long has passed since its last send
_ADDITIVE = frozenset({"step", "advance", "failed", "stored", "calls", "placed", "traces"})  # what TaskEvents may merge


class TaskEvents:
    """The progress events of one task's batches, merged and sent as one stream event once FLUSH_SECONDS
    have passed since the last send (checked as events arrive) and at the task's end: with one image a batch (endpoints), one event per answer made LangGraph's
    stream loop wake for each call (bench/throughput.py, py-spy). Events of one step whose fields are all
    counts ("advance", "failed", "stored", "calls", "placed") merge by adding them and joining their "traces";
    any other event is sent at once, after those waiting. Thread-safe: the batches run in the call pool."""

    def __init__(self, send: Callable[[dict[str, Any]], None]):
        self.send, self.lock = send, threading.Lock()
        self.waiting: dict[str, Any] | None = None
        self.sent_at = time.perf_counter()
        self.closed = False

    def add(self, event: dict[str, Any]) -> None:
        """Merge `event` into the waiting one (or send it, see the class); send when FLUSH_SECONDS passed."""
        with self.lock:
            waiting = self.waiting
            if (self.closed or "step" not in event or not event.keys() <= _ADDITIVE
                    or (waiting is not None and waiting["step"] != event["step"])):
                self._flush()
                self.send(event)
                return
            if waiting is None:
                self.waiting = {**event, "traces": list(event.get("traces", []))}
            else:
                for key, value in event.items():
                    if key == "traces":
                        waiting["traces"].extend(value)
                    elif key != "step":
                        waiting[key] = waiting.get(key, 0) + value
            if time.perf_counter() - self.sent_at >= FLUSH_SECONDS:
                self._flush()

    def close(self) -> None:
        """Send the waiting merged event, if any; any later event is sent at once."""
        with self.lock:
            self._flush()
            self.closed = True

    def _flush(self) -> None:
        if self.waiting is not None:
            event, self.waiting = self.waiting, None
            if not event["traces"]:
                del event["traces"]
            self.send(event)
        self.sent_at = time.perf_counter()

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
    """A task carries a chunk of several batches (graph/build.py); its batches go to at most `concurrency`
    pullers on the context's call pool (nodes/context.py), which every task of the step shares: each puller
    takes the task's next batch as soon as its last one is done, so `concurrency` calls stay in flight until
    the step runs out of work (before, each task ran its batches one after another and a slow batch held the
    ones behind it). Each batch's answers are stored by the node as they land; the per-image results are
    merged. A batch's exception stops the handing out of the chunk's batches at once (those not started are
    dropped; those running finish and store their answers); it is raised when the task reaches its puller's
    result, the pullers' results being read in the order they were started. A task with no items runs nothing
    and returns {}. `prefetch(task, runtime)`, when given, runs once per chunk and its fields are added to
    every batch (one store lookup for the chunk, not one per batch)."""

    @functools.wraps(node)
    def run(task: BatchTask, runtime: Any) -> dict[str, dict[str, Any]]:
        if not task["items"]:
            return {}  # no batch: the node is not run on an empty one
        size = runtime.context.settings.resolved_batch_size()
        shared = {**task, **(prefetch(task, runtime) if prefetch is not None else {})}
        count = -(-len(task["items"]) // size)
        # made as they are taken (one dict per image against an endpoint)
        batches: Iterator[BatchTask] = ({**shared, "items": task["items"][start:start + size]}  # type: ignore[typeddict-item]
                                        for start in range(0, len(task["items"]), size))
        if count == 1:
            return _traced_batch(node, next(batches), runtime)
        # `concurrency` pullers per task, each in a copy of this task's context (progress and traces reach the
        # graph's stream, merged), taking the next batch as soon as its last one is done: one future per
        # puller rather than one per batch (an image, against an endpoint), whose future, context copy and
        # hand-off cost ~5 % of the client's CPU per call at 64 in flight (bench/throughput.py)
        events = TaskEvents(_emit)
        queue = _Batches(batches)
        token = _TASK_EVENTS.set(events)
        try:
            futures = [runtime.context.pool.submit(contextvars.copy_context().run, queue.drain, node, runtime)
                       for _ in range(min(count, runtime.context.settings.concurrency))]
        finally:
            _TASK_EVENTS.reset(token)
        merged: dict[str, dict[str, Any]] = {}
        try:
            for future in futures:
                for results in future.result():
                    for field, values in results.items():
                        merged.setdefault(field, {}).update(values)
        except BaseException:
            queue.stop()
            for future in futures:
                future.cancel()
            raise
        finally:
            events.close()  # batches still running (after an exception) send their events at once
        return merged

    return run


class _Batches:
    """The batches of one task, handed out one at a time to its pullers (`drain`); after `stop` or a failed
    batch none is handed out any more (the batches not started are dropped)."""

    def __init__(self, batches: Iterator[BatchTask]):
        self._batches = batches
        self._lock = threading.Lock()
        self._stopped = False

    def stop(self) -> None:
        """Hand out no more batches."""
        self._stopped = True

    def drain(self, node: StepNode, runtime: Any) -> list[dict[str, dict[str, Any]]]:
        """Run `node` on the next batch until none is left; returns the batches' results in the order taken.
        A batch's exception stops the handing out and is raised."""
        done = []
        while not self._stopped:
            with self._lock:
                batch = next(self._batches, None)
            if batch is None:
                break
            try:
                done.append(_traced_batch(node, batch, runtime))
            except BaseException:
                self._stopped = True
                raise
        return done


def _traced_batch(node: StepNode, batch: BatchTask, runtime: Any) -> dict[str, dict[str, Any]]:
    """`node` on one batch with its traces gathered (`batch_traces`) and sent with its progress event."""
    with batch_traces():
        return node(batch, runtime)


@contextmanager
def batch_traces() -> Iterator[None]:
    """Within the block, `trace` records wait and leave with the next `report` event (its "traces" field, a
    list of the trace records), so a batch's answers and its progress are one stream event, not one per
    answer (each event wakes the graph's stream loop: py-spy on bench/throughput.py runs). Traces
    no `report` took are sent at the block's end, also when it raises, as one {"traces": [...]} event."""
    token = _BATCH_TRACES.set([])
    try:
        yield
    finally:
        pending = _BATCH_TRACES.get()
        _BATCH_TRACES.reset(token)
        if pending:
            _send({"traces": pending})


def call_each(ctx: Context, model: Any, conversations: list[list[BaseMessage]], **kwargs: Any) -> list[str | BaseException]:
    """One batched call; an item whose call fails in a recoverable way comes back as its exception.

    Returns one reply text or exception per conversation, in order. When the batch fails as a whole,
    each conversation is retried alone to find the failing ones. Unrecoverable errors propagate."""
    try:
        with ctx.model_call():
            return [text_of(r) for r in model.batch(conversations, **kwargs)]
    except recoverable_errors() as exc:
        if len(conversations) == 1:
            return [exc]
    # the batch failed as a whole: find out which items fail on their own
    return [_single(ctx, model, c, **kwargs) for c in conversations]


def _single(ctx: Context, model: Any, conversation: list[BaseMessage], **kwargs: Any) -> str | BaseException:
    try:
        with ctx.model_call():
            return text_of(model.invoke(conversation, **kwargs))
    except recoverable_errors() as exc:
        return exc


def failure(step: str, exc: BaseException) -> dict[str, str]:
    """The failure record of an image: {"step": step, "reason": "<ExceptionType>: <first line, <= 300 chars>"}, or
    "UnusableAnswer: <what ictc found>" for a 200 answer ictc found unusable (models/quirks.found_in)."""
    from ictc.models.quirks import found_in

    # a message may quote a file name that is not UTF-8: outputs stay valid UTF-8 (core/images.py)
    text = shown_text(str(exc)).strip()
    # the server's words where the openai client found none (Gemini's list body, TGI's {"error": "..."}): the
    # reason had been "Error code: 400" alone
    said = _server_words(exc)
    if said and found_in(exc):  # a 200 answer ictc found unusable (models/quirks.error_response): no "Error code: 400"
        return {"step": step, "reason": f"UnusableAnswer: {shown_text(said)[:300]}"}
    head, _, rest = text.partition(" - ")
    if said and re.fullmatch(r"Error code: \d+", head) and rest and said.startswith(" ".join(rest.split())):
        text = f"{head} - {shown_text(said)}"  # the server's fuller words ("Provider returned error: upstream ...")
    # (compared one space between words: the server's "again.  maximum" had been said twice, once with two spaces)
    elif said and said not in " ".join(text.split()):
        text = f"{text} - {shown_text(said)}"
    elif said and re.match(r"Error code: \d+ - [{\[]", text):  # the openai client's dump of the whole body:
        text = f"{text.partition(' - ')[0]} - {shown_text(said)}"  # the server's sentence, not a Python dict
    reason = text.splitlines()[0] if text else type(exc).__name__
    return {"step": step, "reason": f"{type(exc).__name__}: {reason[:300]}"}


def _server_words(exc: BaseException) -> str:
    """The error message in the body of the HTTP response `exc` carries (models/quirks.error_of), or ""."""
    from ictc.models.quirks import error_of

    try:
        body = exc.response.text  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 (no response, or a body that cannot be read: nothing to add)
        return ""
    return " ".join(error_of(body)[0].split()) if body else ""


def _emit(event: dict[str, Any]) -> None:
    try:
        writer = get_stream_writer()
    except RuntimeError:  # a node called directly (tests, notebooks)
        return
    writer(event)


def report(step: str, **fields: Any) -> None:
    """A custom stream event; the CLI turns these into progress bars. Silent outside a graph run.
    Within `batch_traces`, the traces gathered so far go with it as its "traces" field (a list of records)."""
    pending = _BATCH_TRACES.get()
    if pending:
        fields["traces"] = pending[:]
        pending.clear()
    _send({"step": step, **fields})


def _send(event: dict[str, Any]) -> None:
    """`event` to the task's TaskEvents when its batches run in the call pool, else to the stream."""
    events = _TASK_EVENTS.get()
    if events is not None:
        events.add(event)
    else:
        _emit(event)


def prompt_text(rendered: list[tuple[str, str]]) -> str:
    """A rendered prompt's (role, text) pairs as one readable text, each part under a "[role]" line (traces)."""
    return "\n".join(f"[{role}]\n{text}" for role, text in rendered)


def trace(step: str, image: str | None, prompt: str, output: Any, model: str, seconds: float, cached: bool,
          **extra: Any) -> None:
    """One model answer as the user may inspect it: the filled prompt, the output, who answered, how long
    it took, whether it came from the store. graph/session.py writes these to the run's traces.jsonl.zst: one
    {"trace": record} event each, or, within `batch_traces`, gathered into the batch's next `report` event."""
    record = {"step": step, "image": image, "prompt": prompt, "output": output, "model": model,
              "seconds": round(seconds, 4), "cached": cached, **extra}
    pending = _BATCH_TRACES.get()
    if pending is not None:
        pending.append(record)
    else:
        _emit({"trace": record})


class Timer:
    """A `with` block's wall time: `seconds` (float, perf_counter) is set on exit, also when it raises."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
