"""The estimator's edits: one verb each, as in BERTopic; every edit is a new version of the fitted run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ictc.core.errors import UsageError

if TYPE_CHECKING:
    from typing import Self

    from ictc.graph.session import RunResult
    from ictc.nodes.actions import Action
    from ictc.nodes.context import Context


class EditVerbs:
    """Mixin of ictc.api.ICTC: the edits of a fitted result. Each returns the estimator, its results
    updated to the new version (changes_ says what moved); clusters are given by name or by index."""

    context: Context | None
    cluster_names_: list[str]

    def _fitted_run(self) -> Path:
        raise NotImplementedError  # ICTC's

    def _set_result(self, result: RunResult) -> None:
        raise NotImplementedError  # ICTC's

    def _cluster(self, cluster: str | int) -> str:
        """A cluster given by index into cluster_names_, or by name: exact, else the one name equal to it but for
        case and spacing, as the CLI and the chat read names ("RED" for "red" had been no cluster here only).
        Raises NotFittedError before a fit (an index had raised AttributeError), UsageError for an index out of range."""
        self._fitted_run()
        if isinstance(cluster, bool | float | np.floating):  # True had been read as the name 'True', 1.0 as '1.0'
            raise UsageError(f"a cluster is given by its index (a whole number) or its name, not {cluster!r}")
        if isinstance(cluster, int | np.integer):
            if not 0 <= int(cluster) < len(self.cluster_names_):
                raise UsageError(f"no cluster {cluster}: the indexes are 0 to {len(self.cluster_names_) - 1}")
            return self.cluster_names_[int(cluster)]
        plain = " ".join(str(cluster).casefold().split())
        alike = [name for name in self.cluster_names_ if " ".join(name.casefold().split()) == plain]
        return str(cluster) if str(cluster) in self.cluster_names_ or len(alike) != 1 else alike[0]

    def _apply(self, action: Action) -> Self:
        from ictc.graph.refine import refine_run

        self._set_result(refine_run(self._fitted_run(), action, context=self.context))
        return self

    def rename_cluster(self, cluster: str | int, name: str) -> Self:
        """Rename `cluster` (its name or index) to `name`; no model is called. Returns self.

        Raises UsageError when the cluster does not exist or `name` is empty or already taken."""
        from ictc.nodes.actions import Rename

        return self._apply(Rename(self._cluster(cluster), name))

    def merge_clusters(self, first: str | int, second: str | int, into: str = "") -> Self:
        """Merge two clusters (names or indexes) into one named `into` (default: the first's name).
        No model is called. Returns self. Raises UsageError for an unknown or repeated cluster."""
        from ictc.nodes.actions import Merge

        return self._apply(Merge((self._cluster(first), self._cluster(second)), into))

    def split_cluster(self, cluster: str | int, n: int = 2) -> Self:
        """Split `cluster` into `n` parts: Step 2b names the parts from its labels, then Step 3 runs on
        its images only. Returns self. Raises UsageError when n < 2 or n exceeds the cluster's size."""
        from ictc.nodes.actions import Split

        return self._apply(Split(self._cluster(cluster), n))

    def remove_cluster(self, cluster: str | int = "") -> Self:
        """Take `cluster` out ("": every empty cluster); its images go to Step 3 again, each choosing among the
        names left (no model call for empty clusters). Returns self. Raises UsageError for an unknown cluster,
        when no cluster is empty, or when fewer than 2 would be left."""
        from ictc.nodes.actions import Remove

        return self._apply(Remove(self._cluster(cluster) if cluster != "" else ""))

    def set_n_clusters(self, n_clusters: int) -> Self:
        """Re-cluster into `n_clusters`: Step 2b and Step 3 run again; descriptions and labels are kept.
        Returns self. Raises UsageError when K is below 2 or above the number of images."""
        from ictc.nodes.actions import SetK

        return self._apply(SetK(n_clusters))

    def add_instruction(self, text: str, step: str = "all") -> Self:
        """Add an instruction ("Do not consider gender.") to the prompts of `step` (describe, label,
        name_clusters, assign or all; aliases 1, 2a, 2b, 3); only the steps from there on are redone.
        Returns self. Raises UsageError for an unknown step."""
        from ictc.nodes.actions import AddInstruction

        return self._apply(AddInstruction(text, step))

    def remove_instructions(self, about: str = "") -> Self:
        """Take out the instructions whose text contains `about` (case aside; "": every one); the earliest step
        that had one and the steps after it are redone. Returns self. Raises UsageError when none matches."""
        from ictc.nodes.actions import RemoveInstructions

        return self._apply(RemoveInstructions(about))

    def set_criterion(self, criterion: str, preset: str | None = None) -> Self:
        """Replace the criterion (every step runs again; stored answers are reused where a prompt is
        unchanged). Returns self. Raises UsageError for an empty criterion or unknown preset."""
        from ictc.nodes.actions import SetCriterion

        return self._apply(SetCriterion(criterion, preset))

    def undo(self) -> Self:
        """Back to the version before the current one, kept as a new version. Returns self.
        Raises UsageError when there is no earlier version."""
        from ictc.graph.refine import undo_run

        self._set_result(undo_run(self._fitted_run(), context=self.context))
        return self

    def search(self, query: str, n: int = 5) -> list[dict[str, Any]]:
        """The `n` images whose descriptions are closest to `query`: a list of {"image", "cluster",
        "distance" (cosine distance, 0 = same direction), "description"}, nearest first."""
        from ictc.graph.refine import search_run

        return search_run(self._fitted_run(), query, n, context=self.context)

    def set_names(self, names: list[str] | str) -> Self:
        """Sort into the user's own categories (a list or "a,b,c"): Step 2b is skipped, Step 3 redone.
        Raises UsageError for fewer than 2 distinct names."""
        from ictc.nodes.actions import SetNames
        from ictc.nodes.user_names import parse_names

        return self._apply(SetNames(tuple(parse_names(names))))

    def add_other(self) -> Self:
        """Add an "other" group for images none of the names fits (Step 3 redone; size in `other_size_`)."""
        from ictc.nodes.actions import AddOther

        return self._apply(AddOther())

    def coarsen(self, n: int) -> Self:
        """Group the names into `n` parents named by the LLM (paper §4.2); images follow their cluster,
        no image is described, labelled or assigned again. The tree is in `tree_`."""
        from ictc.nodes.actions import Coarser

        return self._apply(Coarser(n))

    def suggest_k(self) -> Self:
        """Let K be proposed from the labels and take the best candidate (Steps 2b and 3 redone);
        the candidates and their reasons are in `k_choice_`; pick another with set_n_clusters(K)."""
        from ictc.nodes.actions import ProposeK

        return self._apply(ProposeK())
