"""Quality of the text half (Steps 2a, 2b, 3) with a real small LLM behind an OpenAI-compatible server, the
VLM replaced by given descriptions (bench/text_sets.py): main's behaviour ("before") against the quality
levers of issue 18 ("after"), and each lever turned off alone. Per step: raw-label correctness (the label
names the true class) and purity (images sharing a label share a class), whether the K names cover the
true classes, Step-3 accuracy given the true class names; end to end ACC / NMI / ARI; model calls per step.

    bash ../shared/tools/real-llm.sh serve qwen05b 8123     # a measurement instrument, never a dependency
    python -m bench.text_quality --base-url http://127.0.0.1:8123/v1 --model-name qwen05b
    python -m bench.text_quality --base-url ... --configs before after   # fewer runs
    python -m bench.text_quality --base-url ... --seed 1 --per-class 10 --sets emoji-60-s1 wordnet-59-s1
        # other words of the same kinds (sets: cifar10-20-rich, cifar10-20-rich-b to -h, emoji-N,
        # emoji-articled-N ("A goat.", the issue's held-out form), wordnet-N, wordnet-common-N; with a seed
        # other than 0 the drawn sets' names end in -s<seed>)

Calls per step are model calls plus answers taken from the step cache, a cached answer counted once (the
cache, shared by one set's runs, saves the bench's time and keeps Step 2a's labels the same in all runs). So a
fresh workspace counts more than a used one: the re-asks and the calibrated choice's content-free call made
when an answer was first asked are counted only then.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import save

LEVERS_OFF = {"group_labels": "off", "names_from_labels": "off", "assign_by_label": "off", "endpoint_choice": "enum",
              "check_clusters": "off", "name_groups": "off", "assign_by_group": "off", "label_levels": "off",
              "embedding_prior": "off", "choice_orders": 1, "category_reask": "off", "category_look": "off",
              "echo_check": "off", "category_fold": "off", "category_join": "off",
              "label_kinds": "off", "label_example": "off"}
CONFIGS: dict[str, dict[str, Any]] = {
    "before": LEVERS_OFF,  # main before issue 18 (grouping was for local models only)
    "after": {},  # the defaults
    "after, name groups": {"name_groups": "on"},  # Step 2b one group at a time (off by default)
    "after, name groups, no assign by group": {"name_groups": "on", "assign_by_group": "off"},
    "after, no grouping": {"group_labels": "off"},
    "after, no names from labels": {"names_from_labels": "off"},
    "after, no assign by label": {"assign_by_label": "off"},
    "after, enum choice": {"endpoint_choice": "enum"},
    "after, no label levels": {"label_levels": "off"},  # the third pass's defaults
    "after, json label levels": {"label_levels": "json"},  # the third pass's one JSON answer in Step 2a
    "after, no embedding prior": {"embedding_prior": "off"},
    "after, two rungs": {"category_hops": 2},  # the category of a category
    "after, no category reask": {"category_reask": "off"},  # the fourth pass's defaults
    "after, no category look": {"category_look": "off"},
    "after, no echo check": {"echo_check": "off"},
    "after, category fold": {"category_fold": "on"},  # off by default
    "after, no category join": {"category_join": "off"},  # the fifth pass's defaults
    "after, no label kinds": {"label_kinds": "off"},  # the defaults before the thirteenth pass
    "pass 13": {"category_kinds": "off", "name_ties_by_kind": "off", "label_example": "off"},  # the thirteenth's
    "after, no category kinds": {"category_kinds": "off"},  # category kinds and category joins off
    "after, no label example": {"label_example": "off"},  # Step 2a without its worked example
    "after, no name ties by kind": {"name_ties_by_kind": "off"},  # ties for the last names by the alphabet
    "pass 4": {"category_look": "off", "echo_check": "off", "category_fold": "off", "category_join": "off",
              "label_kinds": "off", "label_example": "off"},  # the fourth pass's final defaults
    "after, 2 orders": {"choice_orders": 2},  # Step 3 asked with the names in two rotated orders
    "after, 3 orders": {"choice_orders": 3},
    "pass 2": {"embedding_prior": "off", "label_levels": "off", "label_example": "off"},  # the second pass's
    "after, true names": {},  # the defaults with the true class names given as the user's names (no Step 2b)
}
TRUE_NAMES = "after, true names"  # Step 2b's share of the error: what the defaults reach when its names are right
# Words that name each true class (the bench's own reading of "a name covers the class"); a name covers a
# class when its normalized form contains one of them.
CLASS_WORDS = {"automobile": ["automobile", "car"], "airplane": ["airplane", "plane", "aircraft"],
               "ship": ["ship", "boat", "vessel"], "animals": ["animal", "mammal", "creature"],
               "plants": ["plant", "flower", "tree", "flora"], "vehicles": ["vehicle", "transport"],
               "clothes": ["cloth", "apparel", "garment", "wear", "fashion"],
               "sports": ["sport", "ball", "athletic"], "food": ["food", "meal", "dish", "snack"]}


def class_words(cls: str) -> list[str]:
    return CLASS_WORDS.get(cls, [cls])


def names_the_class(text: str, cls: str) -> bool:
    from ictc.nodes.label_counts import normalize_label

    said = normalize_label(text)
    return any(word in said for word in class_words(cls))


def label_purity(labels: list[str], truth: list[str]) -> float:
    """Share of images whose class is the majority class of the images that carry the same label."""
    from collections import Counter

    from ictc.nodes.label_counts import normalize_label

    by_label: dict[str, Counter[str]] = {}
    for label, cls in zip(labels, truth, strict=True):
        by_label.setdefault(normalize_label(label), Counter())[cls] += 1
    return sum(c.most_common(1)[0][1] for c in by_label.values()) / len(labels)


def oracle_step3(ctx: Any, text_set: Any, choice: str) -> tuple[float, int]:
    """Step 3 alone with the true class names as the names: (accuracy, calls)."""
    from ictc.models.calibrated import LogprobChooser
    from ictc.models.choose import PromptedChooser
    from ictc.nodes.common import to_messages
    from ictc.prompts import make_criterion, render

    enum = PromptedChooser(ctx.llm_json, ctx.embedder, ctx.settings.assign_retries)
    chooser = LogprobChooser(ctx.llm, fallback=enum) if choice == "logprobs" else enum
    names = sorted(set(text_set.truth.values()))
    listing = "\n".join(f"- {n}" for n in names)
    right = calls = 0
    for path in text_set.paths:
        description = text_set.descriptions[path]
        messages = to_messages(render("assign", make_criterion(text_set.criterion), names=listing,
                                      description=description))
        picked = chooser.choose(messages, names, description, lambda answer: [])
        right += picked.name == text_set.truth[path]
        calls += picked.calls
    return right / len(text_set.paths), calls


def skip_json_schema(ctx: Any) -> None:
    """llama-cpp-python's server answers a json_schema response_format with HTTP 500, which main's JsonCaller
    does not take as "unsupported" (the `servers` branch handles it); start this bench at json_object."""
    if "json_schema" in ctx.llm_json._modes[1:] or ctx.llm_json._modes[0] == "json_schema":
        ctx.llm_json._modes.remove("json_schema")


def run_config(base: Any, vlm: Any, text_set: Any, config: str, workspace: Path, out: Path) -> dict[str, Any]:
    from ictc.evaluation.metrics import score
    from ictc.graph.run import start_run
    from ictc.graph.runtime import build_context
    from ictc.prompts import make_criterion

    settings = replace(base, workspace=str(workspace), **CONFIGS[config])
    settings.validate()
    ctx = replace(build_context(settings), vlm=vlm)
    skip_json_schema(ctx)
    folder = out / f"{text_set.name}-{config.replace(' ', '_').replace(',', '')}"
    again = 2
    while folder.exists():  # a reused workspace (--workspace): a new run folder, the step cache shared
        folder, again = folder.with_name(f"{folder.name.rsplit('~', 1)[0]}~{again}"), again + 1
    names = sorted(set(text_set.truth.values())) if config == TRUE_NAMES else None
    result = start_run(text_set.paths, make_criterion(text_set.criterion), text_set.k, settings, folder, context=ctx,
                       names=names)
    rows = [r for r in result.rows if r["status"] == "ok"]
    truth = [text_set.truth[r["image"]] for r in rows]
    scores = score([r["cluster"] for r in rows], truth)
    names = result.results["cluster_names"]
    classes = sorted(set(text_set.truth.values()))
    calls = {step: c["model_calls"] + c["from_store"] for step, c in result.results["calls"].items()}
    return {"set": text_set.name, "config": config,
            "label=class": sum(names_the_class(r["raw_label"], t) for r, t in zip(rows, truth, strict=True)) / len(rows),
            "label purity": label_purity([r["raw_label"] for r in rows], truth),
            "names cover": f"{sum(any(names_the_class(n, c) for n in names) for c in classes)}/{len(classes)}",
            "ACC": scores.acc, "NMI": scores.nmi, "ARI": scores.ari,
            "calls 2a": calls["label"], "calls 2b": calls["name_clusters"], "calls 3": calls["assign"],
            "2b source": result.results["naming"].get("source", ""),
            "level": result.results["naming"].get("label_level", ""),
            "routes": " ".join(f"{k}:{v}" for k, v in sorted(result.results["routes"].items())),
            "warnings": len(result.results.get("warnings", [])), "names": ", ".join(names)}


def main(argv: list[str] | None = None) -> int:
    from bench.text_sets import all_sets, stand_in_vlm
    from ictc.core.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="OpenAI-compatible server of the LLM under test")
    parser.add_argument("--llm", default="real-llm", help="model name the server answers to")
    parser.add_argument("--model-name", default="", help="what to call the model in the tables")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--sets", nargs="+", help="set names (default: all)")
    parser.add_argument("--per-class", type=int, default=8, help="emoji per category (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="draw other emoji and WordNet words (default 0)")
    parser.add_argument("--oracle-only", action="store_true", help="only Step 3 given the true names")
    parser.add_argument("--no-oracle", action="store_true", help="skip Step 3 given the true names")
    parser.add_argument("--workspace", help="folder for the runs and their step cache, reused by a later bench "
                        "with the same LLM (answers from the cache still count as calls); default: a new temp folder")
    args = parser.parse_args(argv)
    base = load_settings({"backend": "openai", "base_url": args.base_url, "llm": args.llm, "vlm": args.llm,
                          "api_key": "not-needed", "concurrency": 1}, env_file=None)
    sets = [s for s in all_sets(args.per_class, args.seed) if not args.sets or s.name in args.sets]
    vlm = stand_in_vlm(sets)
    root = Path(args.workspace) if args.workspace else Path(tempfile.mkdtemp(prefix="ictc-text-quality-"))
    print(f"runs and step cache in {root}", flush=True)
    rows, oracle = [], []
    for text_set in sets:
        for config in [] if args.oracle_only else args.configs:
            rows.append(run_config(base, vlm, text_set, config, root / f"ws-{text_set.name}", root / "runs"))
            print(rows[-1], flush=True)
        if not args.no_oracle:
            from ictc.graph.runtime import build_context

            ctx = build_context(base)
            skip_json_schema(ctx)
            for choice in ("enum", "logprobs"):
                accuracy, calls = oracle_step3(ctx, text_set, choice)
                oracle.append({"set": text_set.name, "Step 3 given the true names": choice, "accuracy": accuracy,
                               "calls": calls})
                print(oracle[-1], flush=True)
    model = args.model_name or args.llm
    if rows:
        save(f"text_quality-{model}", rows, notes=f"LLM {model} at {args.base_url}; descriptions given (stand-in VLM)")
    if oracle:
        save(f"text_quality_oracle-{model}", oracle, notes=f"LLM {model}: Step 3 alone, the true class names given")
    return 0


if __name__ == "__main__":
    sys.exit(main())
