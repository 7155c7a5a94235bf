"""The runtime context: everything a node reaches that is not state. Models enter the graph only here,
so tests hand in fakes without touching globals."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ictc.core.settings import Settings
from ictc.models.choose import Chooser
from ictc.models.embed import TextEmbedder
from ictc.models.stop_check import STOP_CHECK
from ictc.models.structured import JsonCaller
from ictc.models.wordnet import Taxonomy, WordNetNouns
from ictc.nodes.watch import FailureWatch


@functools.cache
def recoverable_errors() -> tuple[type[BaseException], ...]:
    """The errors of one model call that make one image fail without stopping the run (anything else is a
    bug or an interruption and stops the run; the checkpoint keeps what finished): timeouts, lost
    connections, a malformed JSON body (JSONDecodeError, which the openai client does not retry) and the
    openai SDK's APIError. A function, used as `except recoverable_errors():` (evaluated only when an
    exception is raised), so that a pass that calls no model (a rename, a merge) does not import the SDK."""
    errors: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError, json.JSONDecodeError)
    try:  # openai is a dependency of langchain-openai; kept optional here so fakes need nothing
        import openai
    except ImportError:  # pragma: no cover
        return errors
    return (*errors, openai.APIError)


class StopRequested(BaseException):  # noqa: N818 (not an error: the user asked to stop)
    """Raised in place of a model call once the process was asked to stop (Ctrl-C, SIGTERM)."""


# Process-wide, like the signals that set it: once set, no node starts another model call, so the
# worker threads that drain the queue at exit cost nothing, and finished work is already stored.
STOP = threading.Event()


def check_stop() -> None:
    """Raise StopRequested once the process was asked to stop (STOP set by a signal handler)."""
    if STOP.is_set():
        raise StopRequested("stop requested")


@dataclass
class Context:
    """Everything a node reaches that is not state: the models, the settings, and the stores.

    vlm_id, llm_id: the model names as traced and as part of every cache key; llm_json: the LLM for answers
    that must fit a JSON schema (Step 2b); chooser: Step 3's way of picking one name; embedder: for label
    grouping and answer mapping; taxonomy: WordNet's nouns (label_kinds); slots: a semaphore of `settings.concurrency` model calls in flight; pool:
    the `settings.concurrency` threads that run a step's batches (nodes/common.py in_batches), shared by
    all of the step's tasks, so a thread takes the next batch as soon as its call returns."""

    vlm: Any  # a LangChain chat model that accepts OpenAI-style image blocks
    llm: Any  # a LangChain chat model
    llm_json: JsonCaller
    chooser: Chooser
    embedder: TextEmbedder
    settings: Settings
    vlm_id: str
    llm_id: str
    descriptions: Any = None  # store.descriptions.DescriptionStore: Step-1 reuse (None: no reuse)
    cache: Any = None  # store.step_cache.StepCache: Steps 2a, 2b, 3 reuse (None: no reuse)
    thumbnails: Any = None  # store.thumbnails.ThumbnailCache: Step 1 adds each image's (None: the report makes them)
    taxonomy: Taxonomy = field(default_factory=WordNetNouns)  # WordNet's nouns for label_kinds (read on first use)
    stop: threading.Event | None = None  # one run's own stop request (the UI's stop button), beside STOP
    slots: threading.BoundedSemaphore = field(init=False, repr=False)
    watch: FailureWatch = field(init=False, repr=False)  # stops a step that fails the same way for every image
    pool: ThreadPoolExecutor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # the exact cap on model calls in flight (LangGraph's pool also hosts its stream waiter)
        self.slots = threading.BoundedSemaphore(self.settings.concurrency)
        self.watch = FailureWatch()
        # threads start on first use and end with the context (the executor holds them weakly)
        self.pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="ictc-calls")

    @contextmanager
    def model_call(self) -> Iterator[None]:
        """Hold one of `concurrency` slots for a model call; refuse to start once a stop was requested, or
        once a step failed systematically (nodes/watch.py: raises SystematicFailureError)."""
        self.check_stop()
        with self.slots:
            self.check_stop()
            self.watch.check()
            token = STOP_CHECK.set(self.check_stop)  # a wait on a busy server ends at a stop request
            try:
                yield
            finally:
                STOP_CHECK.reset(token)

    def __deepcopy__(self, memo: dict[int, Any]) -> Context:
        """The same context: models, stores and locks are shared, never copied (sklearn.base.clone
        deep-copies an estimator's parameters, and a context is one of them)."""
        return self

    def check_stop(self) -> None:
        """Raise StopRequested if the process (STOP) or this run (`stop`) was asked to stop."""
        check_stop()
        if self.stop is not None and self.stop.is_set():
            raise StopRequested("stop requested")

    def cached(self, key: str) -> Any | None:
        """The stored answer under `key` (store/keys.py step_key), or None when absent or there is no cache."""
        return self.cache.get(key) if self.cache is not None else None

    def remember(self, key: str, step: str, value: Any) -> None:
        """Store a step's JSON-serialisable answer under `key`; nothing happens without a cache."""
        if self.cache is not None:
            self.cache.put(key, step, value)
