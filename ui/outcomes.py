"""What the chat app says about a finished job (a split included) and about models that are not ready."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def outcome(job: Job) -> str:
    """What a finished job did, in words: clusters and sizes, model calls, and for a change what really
    happened (a split names its parts and says when proposed names were replaced)."""
    if job.stopped:
        return ("Stopped. Everything finished so far is kept; press **Continue** to finish the run "
                "(only the missing work is done).")
    if job.error:
        return f"That did not work: {job.error}"
    result = job.result
    results = result.results
    sizes = ", ".join(f"{c['name']} ({c['size']})" for c in results["clusters"])
    calls = ", ".join(f"{step} {c['model_calls']}" for step, c in results["calls"].items())
    lines = [f"Done in {job.seconds:.1f} s ({job.title}): {len(results['cluster_names'])} clusters: {sizes}.",
             f"Model calls by step: {calls}."]
    if result.failed:
        lines.append(f"{result.failed} image(s) failed; see the Clusters tab. **Continue** retries them.")
    split = results.get("naming", {}).get("split") or {}
    if job.title.startswith("split") and split:
        lines.append(split_said(split, {c["name"]: c["size"] for c in results["clusters"]}))
    if result.changes is not None:
        moved, renamed = result.changes["moved"], result.changes["renamed"]
        lines.append(f"{len(moved)} image(s) moved" + (":" if moved else "."))
        lines += [f"- {Path(m['image']).name}: {m['from'] or '(none)'} → {m['to'] or '(none)'}" for m in moved[:10]]
        if len(moved) > 10:
            lines.append(f"- … and {len(moved) - 10} more (Versions tab)")
        lines += [f"Renamed: {old} → {new}" for old, new in renamed.items()]
    return "\n".join(lines)


def split_said(split: dict[str, Any], sizes: dict[str, int]) -> str:
    """A split's outcome from results.json naming.split: the parts with their sizes, the names Step 2b
    proposed that were replaced (already taken or missing), and parts that got no image."""
    parts = split["parts"]
    text = f"Split **{split['cluster']}** into {len(parts)}: " + ", ".join(f"{p} ({sizes.get(p, 0)})" for p in parts) + "."
    replaced = [p for p in parts if p not in split.get("proposed", [])]
    if replaced:
        text += (f" Step 2b proposed {', '.join(split.get('proposed', [])) or 'no usable names'}; "
                 f"{', '.join(replaced)} stand(s) in for names already taken or missing (rename them if you like).")
    empty = [p for p in parts if not sizes.get(p)]
    if empty:
        text += f" No image chose {', '.join(empty)}: Step 3 put every image elsewhere; try **undo** and another split."
    return text
