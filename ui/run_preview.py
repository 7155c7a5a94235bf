"""What a change would redo on the chat's run, for its reply before "go" (ui/conversation.py), with the run's
results.json beside it for the chat's questions (ui/questions.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ictc.nodes.actions import Action, Merge, Rename, preview_action


def previewer(run_dir: Path | None, results: dict[str, Any], names: list[str]) -> RunPreview:
    """What an action would redo (preview_action) on the run in `run_dir`, for the chat's reply: a rename or a
    merge is checked against the cluster `names` alone (`results`: results.json); any other action reads the
    run's state, once, when first previewed (a read of the state takes seconds at 250,000 images). Its `results`
    answer the chat's questions (ui/questions.py)."""
    return RunPreview(run_dir, results, names)


@dataclass
class RunPreview:
    """previewer's callable: `preview(action)` -> what it would redo; raises UsageError like preview_action."""

    run_dir: Path | None
    results: dict[str, Any]
    names: list[str]
    read: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, action: Action) -> str:
        from ictc.graph.session import run_state

        if isinstance(action, (Rename, Merge)):  # a rename or merge needs only the names
            names_only = {"naming": {"names": self.names}, "criterion": self.results["criterion"], "images": [],
                          "assignments": {}}
            return preview_action(names_only, action)
        if not self.read and self.run_dir is not None:
            self.read.append(run_state(self.run_dir))
        return preview_action(self.read[0], action)
