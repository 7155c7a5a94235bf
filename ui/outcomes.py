"""What the chat app says about a finished job (a split included) and about models that are not ready or
fail: one plain sentence each (the full error goes behind the chat's Details)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ictc.graph.versions import (
    as_given,
    merges_kept_under_a_name,
    names_source,
    quoted_and,
    went_to_said,
)
from ictc.nodes.actions import Action, describe_action
from ictc.prompts import instructions_in_force
from ictc.ui.jobs import STEP_TITLES
from ictc.ui.questions import k_choice_said
from ictc.ui.split_outcome import split_said
from ictc.ui.stopped import stopped_said

if TYPE_CHECKING:
    from ictc.core.settings import Settings
    from ictc.ui.jobs import Job


def model_warning(settings: Settings) -> str:
    """Why no run could start with these settings, found without loading a model (a page can say it at
    once); "" when the models can be tried."""
    from ictc.models.availability import local_model_problem

    if settings.backend == "openai":
        if not (settings.base_url or settings.vlm_base_url) and not settings.api_key:
            return ("the openai backend has neither an endpoint (--base-url / OPENAI_BASE_URL) nor an API key "
                    "(OPENAI_API_KEY).")
        return ""
    for role, model in (("VLM", settings.resolved_vlm()), ("LLM", settings.resolved_llm())):
        if problem := local_model_problem(model):
            return f"the {role} {model!r} cannot be loaded: {problem}."
    return ""


# What an error's text says went wrong -> (what, what to do), first match wins. The texts come from
# ModelUnavailableError and nodes/watch.diagnose (our words) or from the OpenAI client and httpx (raw).
TROUBLES = [
    # first: the model's own words quoted in it may hold any other pattern ("connect", "not found")
    (r"does not seem to receive the images", "it does not seem to receive the images (a model without vision, or no "
     "vision projector)", "give --vlm a vision model, or start the server with the model's vision projector "
     "(llama.cpp: --mmproj FILE), then start `ictc ui` again"),
    (r"api key|\b401\b|unauthori[sz]ed|authentication", "the server refused the API key",
     "set OPENAI_API_KEY (environment or .env) to a key it accepts, then start `ictc ui` again"),
    (r"does not serve|\b404\b|not found|does not exist|model_not_found", "the server does not serve this model",
     "use a model name the server lists (--vlm / --llm), then start `ictc ui` again"),
    (r"\b429\b|quota|rate.?limit", "the server refuses more requests (rate limit or quota)",
     "wait or raise the limit, then press **Continue** (what is done is kept)"),
    (r"cannot reach|connect|refused|name or service|timed? ?out|unreachable", "the server could not be reached",
     "check that it is running and its address (--base-url / OPENAI_BASE_URL), then press **Continue** or say continue (what is done is kept)"),
    (r"image input|no image support|does not (take|support) image", "the model does not take images",
     "give --vlm a vision model"),
    (r"context length|too long", "the request was longer than the model's context", "use a model with a longer "
     "context, or shorter prompts"),
    (r"\b5\d\d\b|server error|internal error|bad gateway|unavailable", "the server answered with an error",
     "look at the server's log, then press **Continue** (what is done is kept)"),
    (r"not downloaded|no config\.json|no folder|cannot be loaded|offline", "it could not be loaded",
     "give a model folder (--vlm / --llm /path) or an endpoint (--backend openai --base-url URL)"),
]


def explain(text: str, settings: Settings, step: str = "") -> str:
    """`text` (an error's full text) as one plain sentence: which model, where, what went wrong, what to do.
    `step` ("describe", "label", ...: the step that was running) tells the role when the text does not."""
    named = re.search(r"the (VLM|LLM) '([^']+)'", text, re.IGNORECASE)
    role = named.group(1).upper() if named else ("VLM" if step == "describe" else "LLM" if step else "")
    where = ""
    if role:
        model = named.group(2) if named else (settings.resolved_vlm() if role == "VLM" else settings.resolved_llm())
        urls = (settings.vlm_base_url if role == "VLM" else settings.llm_base_url) or settings.base_url
        place = (f"at {urls[0] if urls else 'api.openai.com'}" if settings.backend == "openai" else "on this machine")
        where = f"{'the' if step else 'The'} {role} '{model}' is not available {place}"
    what, todo = next(((w, t) for pattern, w, t in TROUBLES if re.search(pattern, text, re.IGNORECASE)),
                      ("", "see the details below"))
    reason = re.search(r"is not available \(([^()]{1,80})\)", text)  # ModelUnavailableError's own words
    if reason and what == TROUBLES[-1][1]:
        what = reason.group(1)
    stage = f"{STEP_TITLES[step]} stopped: " if step in STEP_TITLES else ""
    if where and what:
        return f"{stage}{where}: {what}. To fix: {todo}."
    if what:
        return f"{stage}{what[0].upper()}{what[1:]}. To fix: {todo}."
    return f"{stage}{text.splitlines()[0][:160] if len(text) < 200 else 'The run stopped on an unexpected error'}."


def outcome(job: Job, settings: Settings) -> str:
    """What a finished job did, in words: clusters and sizes, model calls, and for a change what really
    happened (a split names its parts and says when proposed names were replaced); a failure in one plain
    sentence (explain; the full text is the job's `detail`)."""
    if job.stopped:  # how far it got: a bare "Stopped." said nothing of it (a newcomer)
        return stopped_said(job, settings)
    if job.error:
        if job.usage:
            return f"That did not work: {job.error}"
        # the step the error itself names ("stopped at Step 1 (describe)"), then LangGraph's note on a node's
        # exception, then the last step that reported (Step 2a reports while Step 1 still runs: a newcomer saw
        # "Step 2a stopped" above "stopped at Step 1" in the details)
        # ("Step 2b (name clusters)" is the node name_clusters: its failed call stops the run so, graph/build.py)
        task = (re.search(r"stopped at Step \w+ \((\w[\w ]*)\)", f"{job.error}\n{job.detail}")
                or re.search(r"During task with name '(\w+)'", job.detail))
        return explain(job.error, settings, task.group(1).replace(" ", "_") if task else job.last_step())
    result = job.result
    results = result.results
    sizes = ", ".join(f"{c['name']} ({c['size']})" for c in results["clusters"])
    # a Continue's steps say what was done before the stop: "describe 8 (16 from store)" of 32 had left 8 out
    before = ({step: tally.get("before", 0) for step, tally in job.steps.items()}
              if job.title.startswith(("resume", "finishing")) else {})
    calls = calls_said(results, {step: tally.get("placed", 0) for step, tally in job.steps.items()}, before)
    if len(job.passes) > 1:  # a Continue that made several versions: each its own calls (the last one's alone had
        # said "describe 0, label 0" of a run whose Step 1 had just finished, and placed twice its images)
        calls = "; then ".join(f"{what} (version {said['version']}): {calls_said(said, placed, before if not n else {})}"
                               for n, (what, said, placed) in enumerate(job.passes))
    lines = [f"Done in {job.seconds:.1f} s ({job.title}): {(n := len(results['cluster_names']))} cluster{'s' if n != 1 else ''}: {sizes}.",
             f"Model calls by step: {calls}."]
    if ("propose K" in job.title or job.title == "first run") and (proposed := k_choice_said(results)):  # and why
        lines.append(proposed)
    if fewer_kinds := fewer_kinds_said(results):  # why there are fewer clusters than asked, where the user reads
        lines.append(fewer_kinds + ".")
    # the user's edits a Continue's Step 2b could not keep (graph/run.py resume_run), of whichever pass it was
    lines += [f"{note[0].upper()}{note[1:]}." for said in ([s for _, s, _ in job.passes] or [results])
              for note in said.get("notices", [])]
    if result.failed:
        lines.append(failed_said(result.rows, first=job.title in ("first run", "resume")))
    if job.title == "undo" or job.title.startswith("back to version"):
        lines.insert(1, went_back_said(results))
    split = results.get("naming", {}).get("split") or {}
    if job.title.startswith("split") and split:
        lines.append(split_said(split, {c["name"]: c["size"] for c in results["clusters"]}))
    if result.changes is not None:
        renamed, merged = result.changes["renamed"], result.changes.get("merged", {})
        # a merge that kept one cluster's name: said as the merge, not each image of the other "moved"
        kept, moved = merges_kept_under_a_name(result.changes, (results.get("history") or [""])[-1])
        lines += [f"Merged: {quoted_and(olds)} into {into!r} ({n} image{'s' if n != 1 else ''})."
                  for into, (olds, n) in kept.items()]
        if moved or not (renamed or merged or kept):  # "0 image(s) moved." above "Merged: ..." had said nothing
            lines.append(f"{len(moved)} image(s) moved" + (":" if moved else "."))
        root = images_root(r["image"] for r in result.rows)
        lines += [f"- {image_name(m['image'], root)}: {_quoted(m['from'])} → {_quoted(m['to'])}" for m in moved[:10]]
        if len(moved) > 10:
            lines.append(f"- … and {len(moved) - 10} more (Versions tab)")
        if (renamed or merged) and not (job.title.startswith("split") and split):  # a split's parts are said above
            # a paragraph of its own: after the list of moves it ran on in the last item
            lines.append("\n" + renamed_said(renamed, results, merged, result.changes["moved"]))
    return "\n".join(lines)


def _quoted(cluster: str) -> str:
    """A cluster's name quoted (a name may hold "→" or ","), or "(none)" (an image new to the run, or failed)."""
    return repr(cluster) if cluster else "(none)"


def fewer_kinds_said(results: dict[str, Any]) -> str:
    """Step 2b's sentence when the labels held fewer kinds than K (nodes/label_counts.short_of), if the run's
    results (results.json) still warn of it; "". A newcomer asked for 5 groups of 3 colours and got 3 with no reason
    said in the chat, while results.json had it."""
    short = results.get("naming", {}).get("short", "")
    return short if short and short in results.get("warnings", []) else ""


def calls_said(results: dict[str, Any], ran: dict[str, int], before: dict[str, int] | None = None) -> str:
    """The model calls of the pass that wrote `results` (results.json), step by step ("describe 8, label 8, ..."),
    with the answers from the store (a redo answered from the store looked like no work), the images a Continue
    found done (`before`: step -> count, said "done before the stop" with the answers the store kept: images
    done before a stop but not yet checkpointed; "describe 23 (7 from store; 30 done before the stop)" had followed a
    stop at 37/60), and, for a step of this job (`ran`: the
    steps that reported progress -> the images it placed without a call) that made no call, why: Step 2b's names
    taken from Step 2a's label counts, Step 3's images placed by their label, counted among this job's images (a
    newcomer read "name_clusters 0, assign 0" unexplained; another, after a split, "name_clusters 3 (... no model
    call), assign 0 (60 image(s) placed by their label ...)" where the split had redone 15)."""
    said = []
    for step, c in results.get("calls_this_pass", results["calls"]).items():  # this job's, not the version's
        stored, kept = c.get("from_store", 0), (before or {}).get(step, 0)
        notes = [f"{stored} from store"] if stored and not kept else []
        if kept:  # a Continue's answers from the store were made before the stop but not yet in its checkpoint
            notes.append(f"{kept + stored} done before the stop" + (f", {stored} of them found in the store"
                                                                    if stored else ""))
        if c["model_calls"] or step not in ran:
            pass  # a step that called a model needs no "no model call" note
        elif step == "name_clusters" and results.get("naming", {}).get("source") == "labels":
            notes.append("the names are Step 2a's labels: no model call")
        elif step == "assign" and ran[step]:
            # "by their label" alone had been said of images their label's kind placed (route kind, label_kinds)
            kind = " or its kind (WordNet)" if results.get("routes", {}).get("kind") else ""
            notes.append(f"{ran[step]} image(s) placed by their label{kind}: no model call")
        said.append(f"{step} {c['model_calls']}" + (f" ({'; '.join(notes)})" if notes else ""))
    return ", ".join(said)


def renamed_said(renamed: dict[str, str], results: dict[str, Any], merged: dict[str, list[str]] | None = None,
                 moved: list[dict[str, Any]] | None = None) -> str:
    """The clusters whose name changed (`renamed` {old: new}; `merged` {new: [old, ...]}, several gone whole under one
    new name: graph/versions.py diff_from) after the change that made `results` (results.json; its "history"'s last
    entry names the change): the user's rename or merge, an undo or restore, as "Merged: 'a' and 'b' into 'c'.
    Renamed: 'old' → 'new'." (names quoted, merged ones in the order the merge gave them); any other change had
    Step 2b name the clusters afresh, so the new names are said as its (a newcomer read "Renamed: First → green"
    after a new criterion as if it were a rename of theirs), each with where the old one's images went (`moved`:
    diff_from's "moved"; versions.went_to_said)."""
    moved = moved or []
    change = (results.get("history") or [""])[-1]
    source = names_source(change)
    # "'a', 'b' and 'c'" for the clusters merged into each new name, quoted (a name may hold "and"), as given
    joined = {new: quoted_and(as_given(olds, change)) for new, olds in (merged or {}).items()}
    if not source:
        said = [f"Merged: {olds} into {new!r}." for new, olds in joined.items()]
        if renamed:
            said.append("Renamed: " + "; ".join(f"{old!r} → {new!r}" for old, new in renamed.items()) + ".")
        return " ".join(said)
    return (f"New names from {source}: {', '.join(results['cluster_names'])} (" + "; ".join(
        [f"the images of {olds} are all in {new!r}" for new, olds in joined.items()]
        + [went_to_said(old, new, moved) for old, new in renamed.items()]) + ").")


def went_back_said(results: dict[str, Any]) -> str:
    """After an undo or a "go back to version N": which version the run is now, what it went back to, and the
    criterion and instructions now in force (a newcomer's undo had brought back a removed instruction with only
    "0 image(s) moved" said)."""
    given = instructions_in_force(results["criterion"])
    return (f"Now version {results['version']} ({results['history'][-1]}): grouped by “{results['criterion']['text']}”, "
            + ("instructions in force: " + "; ".join(given) if given else "no instructions") + ".")


def images_root(paths: Iterable[str]) -> str:
    """The folder all `paths` (a run's images) are in or under: the folder chosen, or the sub-folder that holds them
    all; "" when they share none (relative and absolute paths mixed, other drives) or there are none."""
    try:
        return os.path.commonpath([os.path.dirname(path) for path in paths]) or "."  # relative paths: the working folder
    except ValueError:
        return ""


def image_name(path: str, root: str) -> str:
    """`path` as the chat names an image: relative to `root` (images_root), so that red_3.jpg and more/red_3.jpg are
    told apart (the sub-folder had been dropped); its file name when `root` is ""."""
    return os.path.relpath(path, root) if root else Path(path).name


NOT_AN_IMAGE = ("read:", "describe: ImageError")  # a failure's reason ("<step>: <why>") when the file is the problem


def retryable(rows: list[dict[str, Any]]) -> int:
    """The failed images among `rows` (results rows or results.json "images") that a retry may mend: all but the
    files that are no usable image (NOT_AN_IMAGE), which fail the same way every time."""
    return sum(r["status"] == "failed" and not r.get("reason", "").startswith(NOT_AN_IMAGE) for r in rows)


def failed_said(rows: list[dict[str, Any]], first: bool = True) -> str:
    """What to do about the failed images among `rows` (results rows: status, reason "<step>: <why>"). A file that
    is no usable image (unreadable, or refused by the decoder at Step 1) fails again on every retry, so Continue
    is offered only for the others (a newcomer's broken .jpg was "retried" by each Continue, for ever). Past the
    run's `first` job, such files are only counted: the whole sentence had come back after every change."""
    failed = [r for r in rows if r["status"] == "failed"]
    root = images_root(r["image"] for r in rows)
    files = [image_name(r["image"], root) for r in failed if r.get("reason", "").startswith(NOT_AN_IMAGE)]
    said = []
    if files and not first:
        said.append(f"({len(files)} file(s) that are no usable image stay left out.)")
    elif files:  # named: the Clusters tab lists them folded away (a newcomer)
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        said.append(f"{len(files)} file(s) are not usable images and are left out ({shown}; the reasons are in the "
                    f"Clusters tab): Continue would fail on them again; replace them in the folder first.")
    if len(failed) > len(files):
        said.append(f"{len(failed) - len(files)} image(s) failed at a model step; see the Clusters tab. **Continue** "
                    f"retries them.")
    return " ".join(said)


UNFINISHED_HELP = ("This run has work left (stopped, or images failed): press **Continue**, or say continue, to do only "
                   "what is missing; a change stopped half-way must be continued or undone before another.")


def first_run_unfinished_said(messages: list[dict[str, str]], helps: object, example_k: int = 0) -> str:
    """The answer to any message but continue while the first run waits, stopped before its results: finish it
    (Continue), or leave it for a new run; `helps`: the message asked for help; `messages`: the chat, whose last
    "Running: ..." names the run; `example_k`: a K the run would take now, given as the example of a new K (0: none
    would, and none is given: the fixed "4 groups" had been the K of a run started with 4, which it refuses). A tenth
    newcomer's "make it 4 groups" here had gone into an empty reading, and after Continue finished the old run "go"
    found nothing waiting: the request was lost without a word."""
    running = next((m["text"].removeprefix("Running: ").rstrip(".") for m in reversed(messages)
                    if m["role"] == "assistant" and m["text"].startswith("Running: ")), "")
    was = f" ({running})" if running else ""
    new_k = f'a new K, e.g. "{example_k} groups"' if example_k else "a new K"
    if helps:
        return (f"{UNFINISHED_HELP} This run{was} stopped before its results; once it is finished you can change it "
                f"(names, instructions; {new_k}, is taken now and applied when it continues), or "
                "press **New run** (sidebar) to start afresh.")
    return (f"This run{was} stopped before its results: say **continue** (or press **Continue**) to finish it, then say "
            f"what to change ({new_k}, is taken now); or press **New run** (sidebar) to start afresh "
            "with another reading.")


def new_images_said(count: int, source: str, results: dict[str, Any] | None, pending: list[Action], reading: str) -> str:
    """The chat's answer when other images are chosen after a run: a fresh run, the previous one kept, and what
    does not carry over to it (a change that waited: a newcomer's vanished unsaid; the instructions in force).
    `count` images from `source`; `results`: the previous run's results.json; `reading`: the new request's."""
    dropped = [describe_action(action) for action in pending]
    given = instructions_in_force(results["criterion"]) if results else []
    notes = "".join([f" The change that waited ({'; '.join(dropped)}) was for the previous run and is dropped."
                     if dropped else "",
                     f" Its instructions ({'; '.join(given)}) are not carried over: say them again if they still hold."
                     if given else ""])
    return (f"New images: {count} from {source}. The next run starts fresh on them; the previous run is kept (Recent "
            f"runs, in the sidebar).{notes} My reading: {reading}. Say **go** to run it, or correct me.")
