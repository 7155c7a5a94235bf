"""The graph as LangGraph Studio opens it (`langgraph dev`, see langgraph.json): the same graph, whose runtime
context is built from the settings (ICTC_* variables, .env), with any overrides the run passes.

Why: Context holds models, which no JSON request can carry, and LangGraph passes a run's `context` on as
given (None stays None; a dict becomes context_schema(**dict): langgraph/pregel/main.py, _coerce_context).
So the runs of this graph turn whatever context they get into a Context before LangGraph sees it, loading
the models once per process and settings; Studio's form shows StudioSettings."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, fields, is_dataclass
from functools import cache
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from ictc.core.settings import Settings, load_settings
from ictc.graph.build import build_graph
from ictc.graph.run import as_k, is_auto
from ictc.graph.runtime import build_context, with_stores
from ictc.nodes.context import Context
from ictc.nodes.user_names import parse_names


@cache
def _context_for(overrides: str) -> Context:
    """The context for these settings overrides (JSON text, so it can be a cache key): models loaded once."""
    return with_stores(build_context(load_settings(json.loads(overrides))))


@dataclass
class StudioSettings:
    """What Studio's context form shows: settings overrides; each one left empty comes from ICTC_* / .env."""

    backend: str | None = None
    base_url: str | None = None
    vlm: str | None = None
    llm: str | None = None
    concurrency: int | None = None


def studio_context(context: Any) -> Context:
    """A full Context from what a run passes: None, a dict or StudioSettings of settings overrides (keys that
    are no setting, e.g. ones a server adds, are ignored), or a Context (kept as it is)."""
    if isinstance(context, Context):
        return context
    values = asdict(context) if is_dataclass(context) and not isinstance(context, type) else dict(context or {})
    known = {f.name for f in fields(Settings)}
    overrides = {k: v for k, v in values.items() if k in known and v not in (None, "")}
    return _context_for(json.dumps(overrides, sort_keys=True))


def studio_input(state: Any) -> Any:
    """A run's input as the graph's state holds it: "n_clusters" "auto" (as `-k auto`) is 0 and "3" is 3, and
    "user_names" "a, b, c" a list (nodes/user_names.py parse_names); a Studio user's "auto" had ended in a TypeError
    deep in a node. Any other input (None to go on, a Command) is passed on as it is.
    Raises UsageError for a K that is neither a number nor "auto", or names that cannot be used."""
    if not isinstance(state, dict):
        return state
    fixed = dict(state)
    if "n_clusters" in fixed:
        fixed["n_clusters"] = 0 if is_auto(fixed["n_clusters"]) else as_k(fixed["n_clusters"])
    if isinstance(fixed.get("user_names"), str):
        fixed["user_names"] = parse_names(fixed["user_names"])
    return fixed


class StudioGraph(CompiledStateGraph):  # type: ignore[type-arg]  # generic over the state: any
    """The compiled graph, whose runs get a Context built from the settings (studio_context)."""

    def stream(self, input: Any, config: Any = None, *, context: Any = None, **kwargs: Any) -> Iterator[Any]:  # noqa: A002
        """As CompiledStateGraph.stream, with `context` replaced by studio_context(context), `input` by studio_input."""
        return super().stream(studio_input(input), config, context=studio_context(context), **kwargs)  # type: ignore[call-overload]

    async def astream(self, input: Any, config: Any = None, *, context: Any = None, **kwargs: Any) -> AsyncIterator[Any]:  # noqa: A002
        """As CompiledStateGraph.astream, with `context` replaced by studio_context(context), `input` by studio_input."""
        async for chunk in super().astream(studio_input(input), config, context=studio_context(context), **kwargs):  # type: ignore[call-overload]
            yield chunk


def studio_graph() -> StudioGraph:
    """The graph compiled for Studio: context_schema StudioSettings (the form); the server brings the checkpointer."""
    builder = build_graph()
    builder.context_schema = StudioSettings  # type: ignore[assignment]  # the form Studio shows; runs get a Context
    compiled = builder.compile(name="ictc")
    compiled.__class__ = StudioGraph  # type: ignore[assignment]  # same object, with stream/astream filling a missing context
    return compiled  # type: ignore[return-value]


graph = studio_graph()
