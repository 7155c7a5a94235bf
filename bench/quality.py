"""Quality on real labelled photos, with whatever models are configured (flags, ICTC_* variables, .env,
as for `ictc run`): the full pipeline beside three baselines on the same images. Prints ACC / NMI / ARI,
the cluster names and the share of Step-3 answers by route. Without a usable real model it says so and
runs nothing (figures of a fake model would mean nothing); `--pixels-only` then runs the one baseline that
needs no model, k-means on PCA of pixels, the floor any model-based method has to clear.

    python -m bench.quality                                   # default local models
    python -m bench.quality --pixels-only                     # the model-free baseline alone
    python -m bench.quality --backend openai --base-url http://host:8000/v1 --vlm VLM --llm LLM
    python -m bench.quality --sets fashion --per-class 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import save

SETS = ("foolbox", "fashion")


def main(argv: list[str] | None = None) -> int:
    from ictc.cli.commands import settings_from_args
    from ictc.cli.parser import backend_options

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--per-class", type=int, default=50, help="Fashion-MNIST photos per class (default 50)")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "ictc-bench-data"))
    parser.add_argument("--pixels-only", action="store_true",
                        help="only k-means on PCA of pixels, which needs no model (no pipeline, no other baseline)")
    backend_options(parser)
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    if args.pixels_only:
        save("quality-pixels", [pixels_row(labelled) for labelled in _sets(args)],
             notes="model-free baseline only: no model was run")
        return 0

    from ictc.core.errors import ModelUnavailableError
    from ictc.graph.runtime import build_context

    try:
        ctx = build_context(settings)
    except ModelUnavailableError as exc:
        print(f"No real model is configured, so nothing was run. {exc}\n"
              "(`--pixels-only` runs the model-free baseline, k-means on PCA of pixels, alone.)")
        return 3
    rows: list[dict[str, Any]] = []
    for labelled in _sets(args):
        rows += evaluate_set(ctx, labelled, Path(args.data) / "runs")
    save("quality", rows, notes=f"VLM {ctx.vlm_id}, LLM {ctx.llm_id}, backend {settings.backend}")
    return 0


def _sets(args: argparse.Namespace) -> list[Any]:
    from bench.datasets import fashion_mnist, foolbox_sets

    data = Path(args.data)
    chosen = foolbox_sets(data / "foolbox") if "foolbox" in args.sets else []
    if "fashion" in args.sets:
        chosen.append(fashion_mnist(data, args.per_class))
    return chosen


def evaluate_set(ctx: Any, labelled: Any, runs: Path) -> list[dict[str, Any]]:
    """The full pipeline and the three baselines on one set: one row each."""
    from bench.baselines import description_kmeans, vlm_only
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    criterion = make_criterion(labelled.criterion)
    truth = _truth(labelled)
    started = time.perf_counter()
    result = start_run(labelled.paths, criterion, labelled.k, ctx.settings, runs / f"{labelled.name}-{int(time.time())}",
                       labels=str(labelled.labels), context=ctx)
    seconds = time.perf_counter() - started
    ok = [r for r in result.rows if r["status"] == "ok" and r["image"] in truth]
    routes = result.results["routes"]
    answered = sum(routes.values()) or 1
    print(f"\n{labelled.name}: {len(labelled.paths)} photos, criterion {labelled.criterion!r}, K={labelled.k}")
    print("  names: " + ", ".join(result.results["cluster_names"]))
    print("  Step-3 routes: " + ", ".join(f"{route} {count / answered:.0%}" for route, count in sorted(routes.items())))

    def row(method: str, predicted: list[str], images: list[str], note: str = "") -> dict[str, Any]:
        return _scored(labelled.name, method, predicted, [truth[i] for i in images], note)

    images = [r["image"] for r in ok]
    rows = [row("IC-TC (full pipeline)", [r["cluster"] for r in ok], images,
                f"{seconds:.0f} s; routes " + ", ".join(f"{k} {v}" for k, v in sorted(routes.items())))]
    vlm_labels = vlm_only(ctx, images, criterion)
    rows.append(row("VLM only (one-word label)", vlm_labels, images, f"{len(set(vlm_labels))} distinct labels"))
    rows.append(row("k-means on description embeddings",
                    [str(c) for c in description_kmeans([r["description"] for r in ok], labelled.k, ctx.embedder)],
                    images, ctx.embedder.name))
    rows.append(_pixel_row(labelled, images, truth))
    return rows


def pixels_row(labelled: Any) -> dict[str, Any]:
    """k-means on PCA of pixels over the whole set: no model involved, so it runs anywhere."""
    truth = _truth(labelled)
    return _pixel_row(labelled, [path for path in labelled.paths if path in truth], truth)


def _truth(labelled: Any) -> dict[str, str]:
    from ictc.evaluation.labels import match_labels, read_labels

    return match_labels(labelled.paths, read_labels(str(labelled.labels)))


def _pixel_row(labelled: Any, images: list[str], truth: dict[str, str]) -> dict[str, Any]:
    from bench.baselines import pixel_kmeans

    predicted = [str(c) for c in pixel_kmeans(images, labelled.k)]
    return _scored(labelled.name, "k-means on PCA of pixels", predicted, [truth[i] for i in images])


def _scored(set_name: str, method: str, predicted: list[str], truth: list[str], note: str = "") -> dict[str, Any]:
    from ictc.evaluation.metrics import score

    scores = score(predicted, truth)
    return {"set": set_name, "method": method, "n": scores.n, "ACC": scores.acc, "NMI": scores.nmi, "ARI": scores.ari,
            "note": note}


if __name__ == "__main__":
    sys.exit(main())
