"""Start and resume a run: the one entry used by the CLI, the API and the UI (refine.py edits a finished one)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.types import Command

from ictc.core.errors import UsageError, whole_number
from ictc.core.folders import entries_said, scan_images
from ictc.core.images import hash_or_reason
from ictc.core.settings import Settings
from ictc.evaluation.labels import check_labels_name_images
from ictc.evaluation.outputs import write_json
from ictc.graph.build import step_progress
from ictc.graph.relocate import check_folder, moved_to
from ictc.graph.runtime import (
    ContextFactory,
    context_without_models,
    make_context,
    with_models,
    with_stores,
)
from ictc.graph.session import Events, RunResult, RunSession, open_run
from ictc.graph.versions import change_unrecorded, load_meta, run_lock, version_summary
from ictc.nodes.actions import Action, action_dict, describe_action, parse_action
from ictc.nodes.context import Context
from ictc.nodes.describe import earlier_answers
from ictc.nodes.kept_edits import not_kept_said
from ictc.nodes.state import RESET, clusterable, distinct_said, files_of, primaries
from ictc.nodes.watch import SAME_FEW
from ictc.prompts import Criterion, criterion_too_long


def check_request(paths: list[str], criterion: Criterion, n_clusters: int, labels: str | None,
                  skipped: str = "0 files") -> None:
    """Everything a user can get wrong, refused before any model is loaded or called.

    `paths`: the images found; `n_clusters`: K, or 0 when K is to be proposed after Step 2a; `skipped`: the other
    files and folders the folder held, in words (core/folders.entries_said). Raises UsageError for a criterion over
    prompts' MAX_CRITERION_CHARS characters, no images, K < 2, K above the number of images, or a labels file that names none of them."""
    if too_long := criterion_too_long(criterion.text):
        raise UsageError(too_long)
    if not paths:
        raise UsageError(f"no images found ({skipped} besides; looked for the formats the installed Pillow "
                         "decodes: .jpg .png .webp .avif .tif and more)")
    if n_clusters == 0 and len(paths) >= 2:
        pass  # K is proposed after Step 2a (nodes/propose_k.py)
    elif n_clusters == 0:  # "K must be at least 2, not 0" had answered a -k auto on one image
        raise UsageError(f"-k auto needs at least 2 images to propose K from; {len(paths)} found")
    elif n_clusters < 2:
        raise UsageError(f"K must be at least 2, not {n_clusters}")
    if n_clusters > len(paths):
        raise UsageError(f"K={n_clusters} is more than the {len(paths)} images found")
    if labels is not None:
        check_labels_name_images(labels, paths)


def hash_images(paths: list[str]) -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    """The run's image items (path, sha256) and the files that cannot be read ({path: {step, reason}})."""
    items, unreadable = [], {}
    for path in paths:
        digest, reason = hash_or_reason(path)
        # an unreadable file keeps a unique placeholder hash, so it is never taken for a twin
        items.append({"path": path, "sha256": digest or f"unreadable:{path}"})
        if reason:
            unreadable[path] = {"step": "read", "reason": reason}
    return items, unreadable


def start_run(images: str | Path | list[str], criterion: Criterion, n_clusters: int | str, settings: Settings,
              out_dir: str | Path, labels: str | None = None, on_event: Events | None = None,
              context: Context | None = None, context_factory: ContextFactory | None = None,
              review: bool = False, names: list[str] | str | None = None, other: bool = False,
              k_pick: str = "best", hashed: tuple[list[dict[str, str]], dict[str, dict[str, str]]] | None = None) -> RunResult:
    """Run IC|TC (Kwon et al., ICLR 2024: describe, label, name K clusters, assign) on a folder or a list of
    image paths and write the run folder `out_dir` (run.json, checkpoints, results, report; version 1 unless
    it pauses). Returns the finished (or paused) result.

    `n_clusters`: K, or "auto" to have K proposed after Step 2a (`k_pick` "ask" pauses for the user's pick,
    "best" takes the best candidate); `names`: the user's own categories (Step 2b skipped, K = their number);
    `other`: Step 3 may answer "other"; `labels` a CSV of true labels to score against; `review` pauses after
    Steps 2b and 3 (answer with resume_run); `context` or `context_factory` replace the models built from
    `settings`; `hashed`: items already hashed by hash_images (several criteria). Unreadable files are
    recorded as failures, not refused; other files in the folder are listed as skipped.
    Raises UsageError (see check_request; also K above the readable images, `out_dir` holding a run already, or
    the folder busy) before any model call; ModelUnavailableError when a model cannot be loaded or reached."""
    from ictc.nodes.user_names import parse_names

    user_names = parse_names(names) if names is not None else []
    k = len(user_names) if user_names else (0 if is_auto(n_clusters) else as_k(n_clusters))
    listing = scan_images(images if isinstance(images, list | tuple) else Path(images))
    paths = listing.paths
    # the labels file given is no skipped image (a labels.csv beside the images is not listed: core/folders.scan_images)
    listing.skipped = {f: r for f, r in listing.skipped.items()
                       if labels is None or Path(f).resolve() != Path(labels).resolve()}
    # the user's own categories may outnumber the images (some stay empty): checked as K=2, not refused as "K=4"
    check_request(paths, criterion, 2 if user_names and len(paths) >= 2 else k, labels, entries_said(listing.skipped))
    if (Path(out_dir) / "run.json").is_file():  # a newcomer's second `run --out` had replaced a run of 12 versions
        raise UsageError(f"{out_dir} already holds a run: refine or resume it, or give another run folder "
                         "(nothing in it was changed)")
    items, unreadable = hashed if hashed is not None else hash_images(paths)
    n_clusters = k
    files, contents, _ = clusterable(items, unreadable)  # identical files are one image to cluster
    if n_clusters > contents and not user_names:
        raise UsageError(f"K={n_clusters} is more than the {distinct_said(files, contents, 0, 'readable images')}")
    ctx = with_stores(context or make_context(settings, context_factory))  # loads models: fails before any work
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {"format": 1, "thread_id": uuid.uuid4().hex, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": settings.public_dict(), "labels": str(Path(labels).resolve()) if labels else None,
            "image_count": len(items), "skipped": listing.skipped, "versions": [],
            # the folder as given and as an absolute path: files added to it later are said (files_not_in_run)
            "source": None if isinstance(images, list | tuple) else [str(Path(images)), os.path.abspath(images)]}
    write_json(run_dir / "run.json", meta)
    with open_run(run_dir, meta, ctx) as session:
        session.drive({"images": items, "criterion": criterion.to_dict(), "n_clusters": n_clusters,
                       "review": review, "failures": unreadable, "user_names": user_names, "other": other,
                       "k_pick": k_pick}, on_event)
        return session.finish("first run")


def files_not_in_run(meta: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """The images in the run's folder now (run.json `source`, the folder `ictc run` was given) that are none of the
    run's images (`rows`, each with its "image" path): files added or renamed since, shown below the folder, sorted.
    [] for a run of a list of paths or of one file, a run from before `source` was recorded, or a folder that is
    gone or cannot be read. One walk of the folder (core/folders.py scan_images)."""
    if not meta.get("source"):
        return []
    given, absolute = meta["source"]
    try:
        if not os.path.isdir(absolute):
            return []
        now = {os.path.relpath(path, absolute) for path in scan_images(absolute).paths}
    except (UsageError, OSError):
        return []
    return sorted(now - {os.path.relpath(row["image"], given) for row in rows})


def replace_settings(run_dir: str | Path, settings: Settings, names: list[str]) -> None:
    """Record the settings `names` (fields: "llm", "reasoning_room") of `settings` in run.json as the run's own, for
    its resume and later refinements: a run stopped for a wrong model name, or a reasoning longer than its room,
    goes on with the right value. Raises UsageError when `run_dir` is no run folder or is busy."""
    run_dir = Path(run_dir)
    with run_lock(run_dir):
        meta = load_meta(run_dir)
        public = settings.public_dict()
        meta["settings"] = {**meta["settings"], **{k: public[k] for k in names if k in public}}
        write_json(run_dir / "run.json", meta)


def resume_run(run_dir: str | Path, on_event: Events | None = None, context: Context | None = None,
               context_factory: ContextFactory | None = None, answer: dict[str, Any] | Action | None = None,
               images: str | Path | None = None) -> RunResult:
    """Continue an interrupted run, or answer the review pause it waits at.

    With no `answer`: a run waiting at a review point, or complete without failures, only has its outputs
    rewritten; a complete run with failures retries the failed images, and makes no version when nothing changed
    (they failed again: its results say so, among the warnings); otherwise the missing work is done.
    `answer` is an Action or its dict form (nodes/actions.py); `images`: the new place of the run's image folder,
    moved or renamed since (graph/relocate.py moved_to). Returns the RunResult of this pass.
    Raises UsageError when `run_dir` is not a run folder, is busy, or gets an answer while not paused; when work is
    left and the run's image folder is gone (graph/relocate.py check_folder), before any step. Without `context`, the
    models are loaded or reached only when a step must run (ModelUnavailableError then, before it)."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    # models are loaded (or their servers reached) only when a step must run: a finished run, whose resume only
    # rewrites its outputs, had needed its servers up ("cannot reach ..." for a run with nothing left to do)
    ctx = with_stores(context) if context else context_without_models(meta)
    with open_run(run_dir, meta, ctx) as session:
        waiting = session.pause()
        if answer is not None:
            if waiting is None:
                raise UsageError(f"{run_dir} is not waiting at a review point; use ictc refine")
            session.ctx = with_models(session.ctx, context_factory)
            session.drive(Command(resume=action_dict(parse_action(answer))), on_event)
            return session.finish(_version_label(meta, describe_action(parse_action(answer))))
        if waiting is not None:
            if images is not None:
                raise UsageError(f"{run_dir} waits at a review point: answer it first, then resume with --images")
            return session.finish(None)  # waits for the user: outputs rewritten only
        state = session.state()
        if is_complete(state) and not state.get("failures") and images is None:
            # finished: outputs rewritten only; or stopped (or killed) while its outputs were written, before
            # its version was recorded: recorded now, under the change's name (run.json) or as the first run
            action = _pending_change(session) or (None if meta.get("versions") else "first run")
            # outputs rewritten only: they still count the version's calls (they had said 0 for every step)
            return session.finish(action, calls_before=_version_calls(session) if action is None else None)
        # finished with failures, or stopped early by a systematic failure (nodes/watch.py): retry the failed
        # images once the rest is done, keep everything else
        # the images are checked before any step: a folder moved since had each image left fail alone
        moved, notes_moved = moved_to(session.meta, state, images) if images is not None else (None, "")
        if moved is None:
            check_folder(session.meta, run_dir)
        session.ctx = with_models(session.ctx, context_factory)  # a step runs: its models are needed from here
        retry = moved is None and (is_complete(state) or bool(state.get("failures")))
        # a finished run with failures and no change pending: a retry that changes nothing makes no version
        settled = outcome(state) if is_complete(state) and not meta.get("pending_action") and moved is None else None
        # the Step-1 answers this VLM gave before count as the step's first ones (a blind VLM is judged on them too)
        session.ctx.watch.seen_before("Step 1 (describe)", earlier_answers(state, session.ctx, SAME_FEW))
        if is_complete(state):  # only its failed images are retried: the rest succeeded (nodes/watch.py done_before)
            session.ctx.watch.done_before({"Step 1 (describe)": len(state.get("descriptions", {})),
                                           "Step 2a (label)": len(state.get("labels", {})),
                                           "Step 3 (assign)": len(state.get("assignments", {}))})
        listen, notes = _noting_lost_edits(on_event, meta)
        notes += [notes_moved] if notes_moved else []
        if moved is not None:  # written as a Step-1 task's (next: its window's end, whose router needs no config
            # here): the writes of a step stopped midway, under the old paths, land first and are replaced
            session.graph.update_state(session.config, {k: v for k, v in moved.items() if k != "images"}, as_node="describe")
        if moved is not None:  # the images' new paths go in as input (an update_state of them was not kept)
            session.drive(Command(update={"images": moved["images"]}), listen)
        elif session.graph.get_state(session.config).next:
            if on_event is not None:  # the graph goes on mid-step, where no step start tells the totals: told here
                for event in progress_so_far(state):  # (the status line said "40/40" with 129 images missing)
                    on_event(event)
            session.drive(None, listen)  # continue from the last checkpoint
        if retry or not is_complete(session.state()):
            # after Ctrl-C the checkpoint may say "nothing next" with work missing: every node skips
            # what is done, so running from the start again does only the missing work
            session.drive(Command(update={"failures": {RESET: True}} if retry else {}, goto="start"), listen)
        if settled is not None and outcome(after := session.state()) == settled:
            # each resume of a run whose failed image failed again had added a version (v3, v4...) the same as the last
            return session.finish(None, notes=[failed_again_said(after)])
        label = _pending_change(session) or (
            f"resume: retried {files_of(state['images'], state['failures'])[0]} failed image(s)" if retry else
            _version_label(meta, "resumed" if moved is None else "resumed from the images' new place"))
        return session.finish("; ".join([label, *notes]), notes=notes)


def _version_calls(session: RunSession) -> dict[str, dict[str, int]] | None:
    """The model calls per step of the run's last version (its results summary), None when they cannot be read."""
    try:
        return dict(version_summary(session.run_dir, session.meta["versions"][-1]["version"])["calls"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def outcome(state: dict[str, Any]) -> tuple[Any, ...]:
    """What a version of a finished run's `state` holds: its cluster names, each image's cluster and the images that
    failed; two states with equal outcomes make the same version."""
    return (state.get("naming", {}).get("names"), {p: a.get("cluster") for p, a in state.get("assignments", {}).items()},
            set(state.get("failures", {})))


def failed_again_said(state: dict[str, Any]) -> str:
    """The line a resume that changed nothing says: how many image files of `state` failed again, and why."""
    failures = state.get("failures", {})
    reasons = sorted({f.get("reason", "") for f in failures.values()} - {""})
    return (f"nothing changed: {files_of(state['images'], failures)[0]} image(s) failed again"
            + (f": {'; '.join(reasons)}" if reasons else "") + " (no new version)")


def _noting_lost_edits(on_event: Events | None, meta: dict[str, Any]) -> tuple[Events, list[str]]:
    """A listener passing the drive's events on to `on_event` but Step 2b's report of the user's edits it could not
    carry over (nodes/name_clusters.py with_stale_cleared), and the list it fills with that report in one line
    (nodes/kept_edits.not_kept_said; the edits were the last version's in `meta`, run.json), for the version's
    label and warnings. Why: a resume's Step 2b had dropped the user's renames and splits without a word."""
    notes: list[str] = []
    versions = meta.get("versions") or [{}]

    def listen(event: dict[str, Any]) -> None:
        if "edits_not_kept" in event:
            notes[:] = [not_kept_said(event["edits_not_kept"], versions[-1].get("version"), event["source"], event["names"])]
        elif on_event is not None:
            on_event(event)

    return listen, notes


def _pending_change(session: RunSession) -> str | None:
    """The change run.json names as pending (graph/refine.py writes it just before writing the change), taken
    out of the session's meta. None, and dropped from run.json too, when the run's latest checkpoint is still
    the last version's: the process stopped after naming the change and before writing it, so nothing changed
    and no version may be recorded under its name."""
    if not session.meta.get("pending_action") or not session.meta.get("versions"):
        return session.meta.pop("pending_action", None)
    latest = session.saver.get_tuple(session.config)  # the latest checkpoint, read without replaying its writes
    written = change_unrecorded(session.meta, latest.config["configurable"]["checkpoint_id"] if latest else None)
    pending = session.meta.pop("pending_action")
    if latest is not None and not written:
        write_json(session.run_dir / "run.json", session.meta)
        return None
    return pending


def is_auto(value: int | str) -> bool:
    """True for a K of "auto" in any case or spacing, as the CLI's -k reads it (the estimator's "Auto" had been
    refused as no number)."""
    return isinstance(value, str) and value.strip().lower() == "auto"


def as_k(value: int | str) -> int:
    """K from an int or its text ("auto" is handled by the caller). Raises UsageError for anything else."""
    try:  # a fraction or a bool had been taken as its int: ICTC(n_clusters=2.7) made 2 clusters
        return whole_number(value, "K")
    except UsageError:
        raise UsageError(f"K must be a whole number or 'auto', not {value!r}") from None


def is_complete(state: dict[str, Any]) -> bool:
    """Every image (first of its twins) has a cluster or a recorded failure."""
    if "naming" not in state:
        return False
    done = {**state.get("assignments", {}), **state.get("failures", {})}
    return all(primary in done for primary in set(primaries(state["images"]).values()))


def progress_so_far(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The progress events the steps send when they start (graph/build.step_progress), for the steps a run stopped
    in the middle of has reached: Step 1 always, Step 2a once descriptions exist, Step 3 once clusters are named.
    Each: {"step", "total", "done"} (images)."""
    reached = ["describe", *(["label"] if state.get("descriptions") else []), *(["assign"] if "naming" in state else [])]
    return [{"step": step, **step_progress(state, step)} for step in reached]


def _version_label(meta: dict[str, Any], action: str) -> str:
    return action if meta.get("versions") else "first run"


