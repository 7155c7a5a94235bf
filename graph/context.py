"""The runtime context: everything a node reaches that is not state. Models enter the graph only here,
so tests hand in fakes without touching globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ictc.models.choose import Chooser
from ictc.models.embed import TextEmbedder
from ictc.models.structured import JsonCaller

from ictc.settings import Settings

# Errors of one model call that make one image fail without stopping the run (anything else is a bug
# or an interruption and stops the run; the checkpoint keeps what finished).
RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError)
try:  # openai is a dependency of langchain-openai; kept optional here so fakes need nothing
    import openai

    RECOVERABLE_ERRORS += (openai.APIError,)
except ImportError:  # pragma: no cover
    pass


@dataclass
class Context:
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

    def cached(self, key: str) -> Any | None:
        return self.cache.get(key) if self.cache is not None else None

    def remember(self, key: str, step: str, value: Any) -> None:
        if self.cache is not None:
            self.cache.put(key, step, value)
