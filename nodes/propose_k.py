"""K proposed when the user leaves it open (`-k auto`): after Step 2a, three signals over the labels each
name a K, and two or three candidates with their reasons go to the user (or the best is taken)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal

import numpy as np
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from ictc.core.errors import UsageError
from ictc.models.structured import parse_json_object
from ictc.nodes.actions import Accept, SetK, parse_action
from ictc.nodes.common import Timer, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context
from ictc.nodes.label_counts import count_labels, format_counts, trim_counts
from ictc.nodes.state import RunState, clusterable, k_range_error, primaries
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key

MAX_K = 10  # the largest K proposed: beyond it a list of names stops being a summary
COVERAGE = 0.8  # the distribution signal: how many of the most frequent labels cover this share of images
MAX_CANDIDATES = 3


def distribution_k(counts: Counter[str], high: int) -> tuple[int, str]:
    """The label-count signal: the effective number of labels, exp(entropy) of their shares (Hill number
    of order 1), clipped to [2, high]; the reason also says how many labels cover 80% of the images."""
    total = sum(counts.values())
    shares = [c / total for c in counts.values()]
    effective = math.exp(-sum(p * math.log(p) for p in shares))
    covered, running = 0, 0
    for count in sorted(counts.values(), reverse=True):
        covered, running = covered + 1, running + count
        if running >= COVERAGE * total:
            break
    k = min(high, max(2, round(effective)))
    return k, (f"{len(counts)} distinct labels; the {covered} most frequent cover {COVERAGE:.0%} of the images; "
               f"effective number of labels exp(entropy) = {effective:.1f}")


def silhouette_by_k(counts: Counter[str], high: int, embed: Any) -> dict[int, float]:
    """The clustering score: k-means (weighted by label counts) on the label embeddings for each K in
    [2, high], scored by the cosine silhouette over the distinct labels (scikit-learn). Empty when there
    are fewer than 3 distinct labels (a silhouette needs 2 <= K < labels)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    labels = list(counts)
    if len(labels) < 3:
        return {}
    vectors = np.asarray(embed(labels))
    weights = np.array([counts[x] for x in labels], dtype=float)
    scores: dict[int, float] = {}
    # one thread: at a few hundred labels the thread pool costs more than it saves (0.49 s -> 0.13 s per
    # k-means on 20 labels, measured on the shared 2-core machine), and the graph runs other work beside it
    with threadpool_limits(1):
        for k in range(2, min(high, len(labels) - 1) + 1):
            assignment = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(vectors, sample_weight=weights)
            if len(set(assignment)) > 1:
                scores[k] = round(float(silhouette_score(vectors, assignment, metric="cosine")), 4)
    return scores


def llm_k(ctx: Context, criterion: Criterion, counts: Counter[str], high: int) -> tuple[int | None, str, int]:
    """The LLM's judgement of the label list: (its K clipped to [2, high] or None if unreadable, its reason,
    model calls made). Stored in the step cache under the rendered prompt."""
    kept, _ = trim_counts(counts, 2, ctx.settings.min_label_count, ctx.settings.label_token_budget)
    rendered = render("propose_k", criterion, step="name_clusters", label_counts=format_counts(kept), low=2, high=high)
    key = step_key("propose_k", ctx.llm_id, rendered)
    answer = ctx.cached(key)
    calls, seconds = 0, 0.0
    if answer is None:
        schema = {"type": "object", "properties": {"k": {"type": "integer"}, "reason": {"type": "string"}},
                  "required": ["k", "reason"], "additionalProperties": False}
        with Timer() as timer, ctx.model_call():
            content, _ = ctx.llm_json.invoke(to_messages(rendered), schema, "suggested_k", max_tokens=120)
        parsed = parse_json_object(content) or {}
        answer, calls, seconds = {"k": parsed.get("k"), "reason": str(parsed.get("reason", ""))[:300]}, 1, timer.seconds
        ctx.remember(key, "propose_k", answer)
    trace("propose_k", None, prompt_text(rendered), answer, ctx.llm_id, seconds, cached=calls == 0)
    report("propose_k", advance=1, calls=calls, stored=1 - calls)
    try:
        k = min(high, max(2, int(answer["k"])))
    except (TypeError, ValueError):
        return None, f"unreadable answer {answer['k']!r}", calls
    return k, answer["reason"], calls


def rank_candidates(votes: dict[str, int | None], silhouettes: dict[int, float],
                    reasons: dict[str, str]) -> list[dict[str, Any]]:
    """Stated rule: each signal votes for one K; candidates are ranked by votes, then silhouette, then the
    smaller K; the next best silhouettes fill up to two candidates; at most three are shown."""
    backing: dict[int, list[str]] = {}
    for signal, k in votes.items():
        if k is not None:
            backing.setdefault(k, []).append(signal)
    for k in sorted(silhouettes, key=lambda x: (-silhouettes[x], x)):
        if len(backing) >= 2:
            break
        backing.setdefault(k, [])
    order = sorted(backing, key=lambda k: (-len(backing[k]), -silhouettes.get(k, -1.0), k))[:MAX_CANDIDATES]
    return [{"k": k, "votes": backing[k], "silhouette": silhouettes.get(k),
             "reasons": [f"{signal}: {reasons.get(signal, '')}" for signal in backing[k]]} for k in order]


def propose(ctx: Context, criterion: Criterion, raw_labels: list[str], n_images: int) -> dict[str, Any]:
    """The proposal for a set of raw labels: candidates (best first) with the three signals behind them.

    Returns {"candidates": [{"k", "votes", "silhouette", "reasons"}], "signals": {...}, "high": int}."""
    counts = count_labels(raw_labels)
    if not counts:
        raise UsageError("no labels to propose K from: every image failed before Step 2a")
    high = max(2, min(MAX_K, len(counts), n_images))
    by_distribution, distribution_reason = distribution_k(counts, high)
    # the silhouette embeds only the labels Step 2b would see (rare ones dropped, a token budget): the
    # embedding is the costly part of the proposal (bench/propose_k.py)
    kept = Counter(trim_counts(counts, 2, ctx.settings.min_label_count, ctx.settings.label_token_budget)[0])
    silhouettes = silhouette_by_k(kept, high, ctx.embedder.embed)
    best_silhouette = max(silhouettes, key=lambda k: (silhouettes[k], -k)) if silhouettes else None
    by_llm, llm_reason, _ = llm_k(ctx, criterion, counts, high)
    # the candidate's own "silhouette" carries the figure, shown beside its reasons: a reason that gave it again had
    # the CLI, the chat and the report say "K=5, silhouette 0.412 ... best silhouette ..., 0.412 at K=5"
    reasons = {"label counts": distribution_reason, "LLM": llm_reason,
               "silhouette": (f"the best of the label embeddings over K=2..{max(silhouettes)}" if best_silhouette
                              else "too few labels")}
    candidates = rank_candidates({"label counts": by_distribution, "silhouette": best_silhouette, "LLM": by_llm},
                                 silhouettes, reasons)
    return {"candidates": candidates, "high": high, "signals": {
        "label_counts": {"k": by_distribution, "reason": distribution_reason, "distinct": len(counts)},
        "silhouette": {"k": best_silhouette, "by_k": {str(k): v for k, v in silhouettes.items()}},
        "llm": {"k": by_llm, "reason": llm_reason}}}


def propose_k(state: RunState, runtime: Runtime[Context]) -> Command[Literal["pick_k", "name_clusters"]]:
    """After Step 2a: pass through when K is set; else propose candidates (state `k_choice.proposal`)."""
    if state.get("n_clusters") or state.get("user_names"):
        return Command(goto="name_clusters")
    labels = state.get("labels", {})
    primary = primaries(state["images"])
    raw = [labels[primary[i["path"]]]["raw"] for i in state["images"] if primary[i["path"]] in labels]
    contents = clusterable(state["images"], state.get("failures", {}))[1]  # identical files are one image
    proposal = propose(runtime.context, Criterion.from_dict(state["criterion"]), raw, contents)
    return Command(update={"k_choice": {"proposal": proposal}}, goto="pick_k")


def pick_k(state: RunState, runtime: Runtime[Context]) -> Command[Literal["pick_k", "name_clusters"]]:
    """The user's pick (a pause when the run asks: answer `SetK` or `Accept` for the best), or the best."""
    choice = dict(state["k_choice"])
    best = choice["proposal"]["candidates"][0]["k"]
    if state.get("k_pick") != "ask":
        return Command(update={"n_clusters": best, "k_choice": {**choice, "chosen": best, "by": "best"}},
                       goto="name_clusters")
    answer = interrupt({"point": "k", "criterion": state["criterion"], "k": 0, "clusters": [], "label_counts": {},
                        "proposal": choice["proposal"], "error": state.get("review_error", "")})
    try:
        action = parse_action(answer)
        if not isinstance(action, SetK | Accept):
            raise UsageError("answer with a K (e.g. k 4), or accept to take the best")
        k = best if isinstance(action, Accept) else action.k
        if refused := k_range_error(state, k):
            raise UsageError(refused)
    except UsageError as exc:
        return Command(update={"review_error": str(exc)}, goto="pick_k")
    return Command(update={"n_clusters": k, "review_error": "",
                           "k_choice": {**choice, "chosen": k, "by": "best" if k == best else "user"}},
                   goto="name_clusters")
