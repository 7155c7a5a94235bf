"""Several criteria on the same images: one run folder per criterion under one group folder (criteria.json),
sharing the models, the image hashes and the stores (a Step-1 description is reused wherever the
describe prompt is the same); a criterion can be added to a group or to a single finished run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ictc.core.errors import UsageError
from ictc.core.folders import list_images
from ictc.core.settings import Settings
from ictc.evaluation.crosstab import GROUP_FILE, read_group, write_group
from ictc.graph.run import as_k, check_request, hash_images, is_auto, start_run
from ictc.graph.runtime import ContextFactory, context_for, make_context, with_stores
from ictc.graph.session import Events, RunResult
from ictc.graph.versions import load_meta
from ictc.nodes.context import Context
from ictc.prompts import Criterion


@dataclass(frozen=True)
class CriterionRequest:
    """One criterion of a group: K (an int or "auto"), or the user's own names, and the "other" group."""

    criterion: Criterion
    n_clusters: int | str = "auto"
    names: list[str] | None = field(default=None)
    other: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The request as kept in the group file, so a criterion not yet started when a run stopped can be started
        by resume_criteria: {"criterion": Criterion dict, "n_clusters", "names", "other"}."""
        return {"criterion": self.criterion.to_dict(), "n_clusters": self.n_clusters, "names": self.names,
                "other": self.other}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> CriterionRequest:
        """The request `to_dict` kept."""
        return cls(Criterion.from_dict(spec["criterion"]), spec["n_clusters"], spec["names"], spec["other"])


def slug(text: str, taken: set[str]) -> str:
    """A folder name for a criterion: lower-case letters and digits joined by '-', made unique among `taken`."""
    base = "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())[:40] or "criterion"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def _check(paths: list[str], request: CriterionRequest, labels: str | None) -> None:
    """check_request for one criterion (names or "auto" count as K=2 here; start_run checks the rest)."""
    k = 2 if request.names or is_auto(request.n_clusters) else as_k(request.n_clusters)
    check_request(paths, request.criterion, k, labels)


def _start(paths: list[str], hashed: Any, request: CriterionRequest, settings: Settings, run_dir: Path,
           ctx: Context, labels: str | None, on_event: Events | None, k_pick: str) -> RunResult:
    return start_run(paths, request.criterion, request.n_clusters, settings, run_dir, labels=labels, on_event=on_event,
                     context=ctx, names=request.names, other=request.other, k_pick=k_pick, hashed=hashed)


def run_criteria(images: str | Path | list[str], requests: list[CriterionRequest], settings: Settings,
                 out_dir: str | Path, labels: str | None = None, on_event: Events | None = None,
                 context: Context | None = None, context_factory: ContextFactory | None = None,
                 k_pick: str = "best") -> list[RunResult]:
    """One run per criterion over the same images, in `out_dir`/<criterion slug>; the group file and its
    criteria.html (cross-tabs of every pair) are written after each run. Returns the runs' results.

    Raises UsageError before any model is loaded when a request cannot run."""
    paths = list_images(images if isinstance(images, list | tuple) else Path(images))
    if len(requests) < 2:
        raise UsageError("several criteria need at least two (-c A -k K -c B -k K)")
    for request in requests:
        _check(paths, request, labels)
    out = Path(out_dir)
    if (out / GROUP_FILE).is_file():
        raise UsageError(f"{out} already holds several criteria: add one with ictc add-criterion {out}, or continue "
                         f"a stopped run of them with ictc resume {out}")
    hashed = hash_images(paths)  # once for every criterion
    ctx = with_stores(context or make_context(settings, context_factory))  # models loaded once
    group: dict[str, Any] = {"format": 1, "images": paths, "criteria": []}
    for request in requests:
        name = slug(request.criterion.text, {e["name"] for e in group["criteria"]})
        group["criteria"].append({"name": name, "criterion": request.criterion.text, "run": name,
                                  "request": request.to_dict()})
    out.mkdir(parents=True, exist_ok=True)
    # every criterion recorded before the first runs: a stop had lost those not yet started (resume_criteria)
    write_group(out, group)
    results = []
    for entry, request in zip(group["criteria"], requests, strict=True):
        # each run's results rewrite the group's criteria.html as they are written (evaluation/crosstab.py)
        results.append(_start(paths, hashed, request, settings, out / entry["run"], ctx, labels, on_event, k_pick))
    return results


def started_runs(folder: str | Path) -> list[Path]:
    """The run folders to resume for `folder`: itself when it holds no group of criteria, else its criteria's runs
    that have started (a run.json), in the group's order.

    Raises UsageError when none of a group's criteria had started."""
    folder = Path(folder)
    if not (folder / GROUP_FILE).is_file():
        return [folder]
    runs = [folder / e["run"] for e in read_group(folder)["criteria"] if (folder / e["run"] / "run.json").is_file()]
    if not runs:
        raise UsageError(f"no criterion of {folder} had started: run them again (remove {folder / GROUP_FILE} first)")
    return runs


def resume_criteria(folder: str | Path, on_event: Events | None = None, context: Context | None = None,
                    context_factory: ContextFactory | None = None) -> list[RunResult]:
    """Continue a run of several criteria that stopped: each criterion's run is resumed (graph/run.py resume_run; a
    finished one only has its outputs rewritten) and each not yet started is started from its request in the group
    file, with the first run's settings and labels (the best proposed K taken). Returns the runs' results.

    Raises UsageError when `folder` holds no group, or no criterion's run had started."""
    from ictc.graph.run import resume_run

    folder = Path(folder)
    group = read_group(folder)
    meta = load_meta(started_runs(folder)[0])
    ctx = context_for(meta, context, context_factory)  # models loaded once for every criterion
    paths, hashed, results = list(group["images"]), None, []
    for entry in group["criteria"]:
        if (folder / entry["run"] / "run.json").is_file():
            results.append(resume_run(folder / entry["run"], on_event=on_event, context=ctx))
        elif entry.get("request"):
            request = CriterionRequest.from_dict(entry["request"])
            hashed = hashed or hash_images(paths)
            results.append(_start(paths, hashed, request, ctx.settings, folder / entry["run"], ctx,
                                  meta.get("labels"), on_event, "best"))
    return results


def add_criterion(folder: str | Path, request: CriterionRequest, on_event: Events | None = None,
                  context: Context | None = None, context_factory: ContextFactory | None = None,
                  k_pick: str = "best") -> RunResult:
    """Cluster the images of a group (or of one finished run, which then becomes a group holding itself as
    ".") by one more criterion, in `folder`/<slug>, with the first run's settings. Returns its result.
    A run that is one criterion of a group adds to that group (it had become a group of its own inside it)."""
    folder = Path(folder)
    if not (folder / GROUP_FILE).is_file() and (folder.parent / GROUP_FILE).is_file() and any(
            (folder.parent / e["run"]).resolve() == folder.resolve() for e in read_group(folder.parent)["criteria"]):
        folder = folder.parent
    if (folder / GROUP_FILE).is_file():
        group = read_group(folder)
    elif (folder / "results.json").is_file():
        results = json.loads((folder / "results.json").read_text("utf-8"))
        group = {"format": 1, "images": [r["image"] for r in results["images"]], "criteria": [
            {"name": slug(results["criterion"]["text"], set()), "criterion": results["criterion"]["text"], "run": "."}]}
    elif (folder / "run.json").is_file():  # a stopped run: said how to finish it, not "neither ... nor"
        raise UsageError(f"{folder} is a run that has not finished: finish it first (ictc resume {folder})")
    else:
        raise UsageError(f"{folder} is neither a finished run nor a group of criteria")
    first = folder / group["criteria"][0]["run"]
    meta = load_meta(first)
    settings = context.settings if context else None
    ctx = context_for(meta, context, context_factory)
    paths = list(group["images"])
    _check(paths, request, meta.get("labels"))
    name = slug(request.criterion.text, {e["name"] for e in group["criteria"]})
    group["criteria"].append({"name": name, "criterion": request.criterion.text, "run": name,
                              "request": request.to_dict()})
    write_group(folder, group)
    result = _start(paths, hash_images(paths), request, settings or ctx.settings, folder / name, ctx,
                    meta.get("labels"), on_event, k_pick)
    return result  # its results rewrote the group's criteria.html (evaluation/crosstab.py refresh_group_of)
