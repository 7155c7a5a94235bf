"""Python API in the scikit-learn style: settings in the constructor, work in `fit`, results end in `_`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ictc.core.errors import UsageError
from ictc.nodes.context import Context


class ICTC:
    """Cluster images by a text criterion.

    >>> model = ICTC(criterion="mood of the person", n_clusters=4).fit("photos/")
    >>> model.cluster_names_, model.labels_[:5]
    """

    def __init__(self, criterion: str | None = None, n_clusters: int | str = 3, *, preset: str | None = None,
                 instructions: dict[str, list[str]] | None = None, out_dir: str | Path | None = None,
                 context: Context | None = None, cluster_names: list[str] | str | None = None, other: bool = False,
                 **settings: Any):
        self.criterion, self.n_clusters, self.preset = criterion, n_clusters, preset  # n_clusters="auto": proposed
        self.cluster_names, self.other = cluster_names, other  # issue 21: the user's own names; an "other" group
        self.instructions = instructions or {}
        self.out_dir = out_dir
        self.context = context  # models to use instead of those the settings name (tests, notebooks)
        self.settings = settings  # any field of ictc.core.settings.Settings, e.g. backend="openai", vlm="..."

    def _criterion(self):
        from ictc.prompts import make_criterion

        criterion = make_criterion(self.criterion, self.preset)
        for step, texts in self.instructions.items():
            for text in texts:
                criterion = criterion.with_instruction(text, step)
        return criterion

    def fit(self, images: str | Path | list[str], y: Any = None, labels: str | None = None) -> ICTC:
        """`images`: a folder or a list of paths. `y` is ignored (scikit-learn convention)."""
        from ictc.core.settings import load_settings
        from ictc.graph.run import start_run

        settings = self.context.settings if self.context else load_settings(self.settings)
        out = Path(self.out_dir) if self.out_dir else Path(tempfile.mkdtemp(prefix="ictc-run-"))
        source = [str(p) for p in images] if isinstance(images, list | tuple) else images
        result = start_run(source, self._criterion(), self.n_clusters, settings, out, labels=labels,
                           context=self.context, names=self.cluster_names, other=self.other)
        self._store(result)
        return self

    def _store(self, result) -> None:
        rows = result.rows
        self.run_dir_ = result.run_dir
        self.results_ = result.results
        self.cluster_names_ = list(result.results["cluster_names"])
        self.image_paths_ = [r["image"] for r in rows]
        index = {name: i for i, name in enumerate(self.cluster_names_)}
        self.labels_ = [index.get(r["cluster"], -1) for r in rows]  # -1: the image failed
        self.descriptions_ = [r["description"] for r in rows]
        self.raw_labels_ = [r["raw_label"] for r in rows]
        self.metrics_ = result.results.get("metrics")
        self.version_ = result.version
        self.changes_ = result.changes
        self._store_groupings(result.results)

    def fit_predict(self, images: str | Path | list[str], y: Any = None) -> list[int]:
        return self.fit(images).labels_

    def refine(self, *, instruction: str | None = None, step: str = "all", criterion: str | None = None,
               n_clusters: int | None = None, rename: tuple[str, str] | None = None,
               merge: tuple[str, str] | None = None, split: tuple[str, int] | None = None) -> ICTC:
        """One change to the fitted result, as a new version; only the work whose inputs changed is redone.
        The differences from the previous version are in `changes_`."""
        from ictc.graph.refine import refine_run
        from ictc.nodes.actions import (
            Action,
            AddInstruction,
            Merge,
            Rename,
            SetCriterion,
            SetK,
            Split,
        )

        given = [a for a in (instruction, criterion, n_clusters, rename, merge, split) if a is not None]
        if len(given) != 1:
            raise UsageError("refine takes exactly one change")
        if instruction is not None:
            action: Action = AddInstruction(instruction, step)
        elif criterion is not None:
            action = SetCriterion(criterion)
        elif n_clusters is not None:
            action = SetK(n_clusters)
        elif rename is not None:
            action = Rename(*rename)
        elif merge is not None:
            action = Merge((merge[0], merge[1]))
        else:
            assert split is not None  # exactly one of the six was given (checked above)
            action = Split(split[0], int(split[1]))
        self._store(refine_run(self.run_dir_, action, context=self.context))
        return self

    def undo(self) -> ICTC:
        from ictc.graph.refine import undo_run

        self._store(undo_run(self.run_dir_, context=self.context))
        return self

    def search(self, query: str, n: int = 5) -> list[dict[str, Any]]:
        from ictc.graph.refine import search_run

        return search_run(self.run_dir_, query, n, context=self.context)

    # issue 21: K proposed, the user's names, "other", levels, several criteria -------------------------------
    def _store_groupings(self, results: dict[str, Any]) -> None:
        """`k_choice_` (the K proposal and choice, None when K was given), `tree_` (the latest coarser level,
        [] when none), `other_size_` (images in "other", None without that group)."""
        self.k_choice_ = results.get("k_choice")
        self.tree_ = results.get("tree", [])
        self.other_size_ = results["other"]["size"] if "other" in results else None

    def _refine_with(self, action: Any) -> ICTC:
        from ictc.graph.refine import refine_run

        self._store(refine_run(self.run_dir_, action, context=self.context))
        return self

    def set_names(self, names: list[str] | str) -> ICTC:
        """Sort into the user's own categories (a list or "a,b,c"): Step 2b is skipped, Step 3 redone.
        Raises UsageError for fewer than 2 distinct names."""
        from ictc.nodes.actions import SetNames
        from ictc.nodes.user_names import parse_names

        return self._refine_with(SetNames(tuple(parse_names(names))))

    def add_other(self) -> ICTC:
        """Add an "other" group for images none of the names fits (Step 3 redone; size in `other_size_`)."""
        from ictc.nodes.actions import AddOther

        return self._refine_with(AddOther())

    def coarsen(self, n: int) -> ICTC:
        """Group the names into `n` parents named by the LLM (paper §4.2); images follow their cluster,
        no image is described, labelled or assigned again. The tree is in `tree_`."""
        from ictc.nodes.actions import Coarser

        return self._refine_with(Coarser(int(n)))

    def suggest_k(self) -> ICTC:
        """Let K be proposed from the labels and take the best candidate (Steps 2b and 3 redone);
        the candidates and their reasons are in `k_choice_`; pick another with refine(n_clusters=K)."""
        from ictc.nodes.actions import ProposeK

        return self._refine_with(ProposeK())

    def add_criterion(self, criterion: str, n_clusters: int | str = "auto", *, preset: str | None = None,
                      cluster_names: list[str] | str | None = None, other: bool = False) -> ICTC:
        """Cluster the fitted images by one more criterion (models and stores shared); the run folder becomes
        a group of criteria. Returns a new fitted estimator for that criterion (compare with `crosstab`)."""
        from ictc.graph.criteria import CriterionRequest, add_criterion
        from ictc.prompts import make_criterion

        folder = getattr(self, "group_dir_", None) or self.run_dir_
        request = CriterionRequest(make_criterion(criterion, preset), 0 if cluster_names else n_clusters,
                                   list(cluster_names) if isinstance(cluster_names, list | tuple) else
                                   (cluster_names.split(",") if cluster_names else None), other)
        fitted = ICTC(criterion, n_clusters, preset=preset, context=self.context, cluster_names=cluster_names,
                      other=other, **self.settings)
        fitted._store(add_criterion(folder, request, context=self.context))
        fitted.group_dir_ = self.group_dir_ = folder
        return fitted

    def crosstab(self, other: ICTC | str) -> Any:
        """Images counted per pair of clusters: this criterion's (rows) by `other`'s (columns), where `other`
        is a fitted estimator on the same images or a criterion of this group. Returns an
        evaluation.crosstab.CrossTab (rows, columns, counts; to_dict()); heat_map_png(tab) draws it."""
        import json

        from ictc.evaluation.crosstab import criterion_results, crosstab

        if isinstance(other, ICTC):
            other_results = json.loads((Path(other.run_dir_) / "results.json").read_text("utf-8"))
        else:
            other_results = criterion_results(getattr(self, "group_dir_", self.run_dir_), other)
        return crosstab(self.results_, other_results)
