"""`ictc estimate`: what a run would cost before it runs — model calls per step (minus what the
workspace's stores already hold), tokens, price, and time at a given speed. Nothing is called."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ictc.core.folders import list_images
from ictc.core.images import hash_or_reason
from ictc.core.settings import Settings
from ictc.nodes.label import label_prompt as step_2a_prompt
from ictc.nodes.label import label_template
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key

IMAGE_TOKENS_AT_512 = 255  # what OpenAI-style vision models bill for one 512 px image tile plus overhead


@dataclass
class Estimate:
    """What a run would take: images found, distinct contents, descriptions already in the workspace, model
    calls per step (upper bounds), and input/output tokens (characters / 4; descriptions at their cap)."""

    images: int
    unique: int
    stored_descriptions: int
    calls: dict[str, int]
    input_tokens: int
    output_tokens: int

    def cost(self, price_in: float, price_out: float) -> float:
        """Price in dollars, given prices in dollars per million input and output tokens."""
        return (self.input_tokens * price_in + self.output_tokens * price_out) / 1e6

    def seconds(self, per_call: dict[str, float], concurrency: int) -> float:
        """Wall time in seconds: each step's calls times its seconds per call (`per_call`, keyed by step),
        summed and divided by the calls in flight. Raises KeyError if a step lacks a time."""
        return sum(self.calls[step] * per_call[step] for step in self.calls) / concurrency


def _tokens(messages: list[tuple[str, str]]) -> int:
    return sum(math.ceil(len(text) / 4) for _, text in messages)


def estimate(images: str | Path, criterion: Criterion, k: int, settings: Settings) -> Estimate:
    """Count what clustering the folder `images` into `k` clusters would cost, without calling a model.

    Descriptions already in the workspace's store for this VLM and prompt are not counted again; an image
    is billed IMAGE_TOKENS_AT_512 times max(1, (image_max_side / 512)^2). Raises UsageError for a bad folder."""
    paths = list_images(Path(images))
    digests = {d for d, _ in (hash_or_reason(p) for p in paths) if d}
    describe_prompt = render("describe", criterion)
    stored = 0
    folder = settings.resolved_workspace() / "chroma"
    if folder.is_dir():
        from ictc.models.embed import make_embedder
        from ictc.store.descriptions import DescriptionStore

        limits = {"image_max_side": settings.image_max_side, "max_tokens": settings.description_max_tokens}
        keys = [step_key("describe", settings.resolved_vlm(), describe_prompt, image=d, **limits) for d in digests]
        stored = len(DescriptionStore(folder, make_embedder(settings.embedder)).get(keys))
    n, todo = len(digests), len(digests) - stored
    description = "x" * 4 * settings.description_max_tokens  # a description as long as it may be
    # as Step 2a asks: its template, and the worked example before a description of several sentences (one at its cap)
    label_prompt = _tokens(step_2a_prompt(label_template(settings.label_levels), criterion, description,
                                          settings.label_example == "on"))
    names_prompt = _tokens(render("name_clusters", criterion, label_counts="x" * 4 * settings.label_token_budget,
                                  groups="", k=k))
    assign_prompt = _tokens(render("assign", criterion, names="x" * 20 * k, description=description))
    image = IMAGE_TOKENS_AT_512 * max(1, (settings.image_max_side / 512) ** 2)
    calls = {"describe": todo, "label": n, "name_clusters": 1, "assign": n}
    input_tokens = int(todo * (_tokens(describe_prompt) + image) + n * (label_prompt + assign_prompt) + names_prompt)
    output_tokens = (todo * settings.description_max_tokens + n * settings.label_max_tokens + (40 * k + 40) + n * 10)
    return Estimate(len(paths), n, stored, calls, input_tokens, output_tokens)
