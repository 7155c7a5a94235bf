"""The baselines the full pipeline is compared with, on the same images:
- VLM only (the paper's A.3.2): the VLM gives a one-word label under the criterion; each distinct
  label is a cluster (their number may differ from K; ACC matches clusters to classes one to one);
- k-means on text embeddings of the Step-1 descriptions (the offline embedder);
- k-means on PCA of raw pixels (no model at all)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np


def vlm_only(ctx: Any, paths: list[str], criterion: Any) -> list[str]:
    from ictc.core.images import load_rgb, to_data_uri
    from ictc.nodes.common import call_each, to_messages
    from ictc.nodes.label_counts import normalize_label
    from ictc.prompts import render

    rendered = render("vlm_label", criterion, step="describe")
    labels = []
    for start in range(0, len(paths), 8):
        batch = paths[start:start + 8]
        conversations = [to_messages(rendered, to_data_uri(load_rgb(p, ctx.settings.image_max_side))) for p in batch]
        for reply in call_each(ctx, ctx.vlm, conversations, max_tokens=8):
            text = "" if isinstance(reply, BaseException) else re.sub(r"^\s*answer\s*:\s*", "", reply, flags=re.I)
            words = re.findall(r"[\w-]+", text)
            labels.append(normalize_label(words[0]) if words else "(no answer)")
    return labels


def description_kmeans(descriptions: list[str], k: int, embedder: Any, seed: int = 0) -> list[int]:
    from sklearn.cluster import KMeans

    vectors = np.asarray(embedder.embed(descriptions), dtype=np.float32)
    return KMeans(k, n_init=10, random_state=seed).fit_predict(vectors).tolist()


def pixel_kmeans(paths: list[str], k: int, side: int = 32, seed: int = 0) -> list[int]:
    from PIL import Image
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    pixels = []
    for path in paths:  # one image decoded at a time, kept as a small vector
        with Image.open(path) as image:
            pixels.append(np.asarray(image.convert("RGB").resize((side, side)), dtype=np.float32).ravel() / 255)
    matrix = np.stack(pixels)
    components = PCA(min(50, len(paths) - 1, matrix.shape[1]), random_state=seed).fit_transform(matrix)
    return KMeans(k, n_init=10, random_state=seed).fit_predict(components).tolist()
