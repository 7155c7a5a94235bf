"""Shared by the benchmark scripts: test images, and writing results as JSON and a markdown table."""

from __future__ import annotations

import json
import statistics
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"  # git-ignored
PHOTOS = Path(tempfile.gettempdir()) / "ictc-bench-photos-v2"  # shared by the benches, made once


def make_photos(n: int, folder: Path = PHOTOS, size: int = 32) -> list[str]:
    """n distinct small noise images (content differs, so nothing is deduplicated)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img_{i:05d}.png"
        if not path.exists():  # image i depends on i alone, so a larger set extends a smaller one
            pixels = np.random.default_rng(i).integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def median(values: list[float]) -> float:
    return statistics.median(values)


def save(name: str, rows: list[dict[str, Any]], notes: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{name}-{stamp}.json").write_text(json.dumps({"rows": rows, "notes": notes}, indent=2))
    columns = list(dict.fromkeys(key for row in rows for key in row))  # every row's keys, first seen first
    table = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    table += ["| " + " | ".join(f"{v:.3g}" if isinstance(v := r.get(c, ""), float) else str(v) for c in columns) + " |"
              for r in rows]
    markdown = "\n".join(table) + (f"\n\n{notes}\n" if notes else "\n")
    path = RESULTS / f"{name}-{stamp}.md"
    path.write_text(markdown)
    print(markdown)
    return path
