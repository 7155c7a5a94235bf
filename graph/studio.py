"""The graph as LangGraph Studio opens it (`langgraph dev`, see langgraph.json): the same graph, whose runtime
context is built from the settings (ICTC_* variables, .env) when the caller passes none or only overrides.

Why a context class of its own: LangGraph turns a dict `context` into `context_schema(**context)` and leaves
None as None (langgraph/pregel/main.py, _coerce_context), but Context holds models, which no JSON request can
carry. StudioContext takes plain settings overrides instead and loads the models from them, once per
process and settings; a run with no context at all gets one built from the settings alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from ictc.core.settings import load_settings
from ictc.graph.build import build_graph
from ictc.graph.runtime import build_context, with_stores
from ictc.nodes.context import Context


@cache
def _context_for(overrides: str) -> Context:
    """The context for these settings overrides (JSON text, so it can be a cache key): models loaded once."""
    return with_stores(build_context(load_settings(json.loads(overrides))))


@dataclass
class StudioContext(Context):
    """Settings overrides in, a full Context out: `backend`, `base_url`, `vlm`, `llm`, `concurrency`...
    (any field of core.settings.Settings, in `overrides`); the models come from the settings."""

    vlm: Any = None
    llm: Any = None
    llm_json: Any = None
    chooser: Any = None
    embedder: Any = None
    settings: Any = None
    vlm_id: str = ""
    llm_id: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vlm is None:  # nothing but settings given: load (or reuse) the models they name
            built = _context_for(json.dumps(self.overrides, sort_keys=True))
            for f in fields(Context):
                if f.init:
                    setattr(self, f.name, getattr(built, f.name))
        super().__post_init__()


class StudioGraph(CompiledStateGraph):  # type: ignore[type-arg]  # generic over the state: any
    """The compiled graph, with a context built from the settings when a run passes none."""

    def stream(self, input: Any, config: Any = None, *, context: Any = None, **kwargs: Any) -> Iterator[Any]:  # noqa: A002
        """As CompiledStateGraph.stream, with `context` None replaced by StudioContext() (settings only)."""
        return super().stream(input, config, context=StudioContext() if context is None else context, **kwargs)  # type: ignore[arg-type]

    async def astream(self, input: Any, config: Any = None, *, context: Any = None, **kwargs: Any) -> AsyncIterator[Any]:  # noqa: A002
        """As CompiledStateGraph.astream, with `context` None replaced by StudioContext() (settings only)."""
        async for chunk in super().astream(input, config, context=StudioContext() if context is None else context, **kwargs):  # type: ignore[arg-type]
            yield chunk


def studio_graph() -> StudioGraph:
    """The graph compiled for Studio: context_schema StudioContext; the server brings the checkpointer."""
    builder = build_graph()
    builder.context_schema = StudioContext
    compiled = builder.compile(name="ictc")
    compiled.__class__ = StudioGraph  # type: ignore[assignment]  # same object, with stream/astream filling a missing context
    return compiled  # type: ignore[return-value]


graph = studio_graph()
