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

    def __init__(self, criterion: str | None = None, n_clusters: int = 3, *, preset: str | None = None,
                 instructions: dict[str, list[str]] | None = None, out_dir: str | Path | None = None,
                 context: Context | None = None, **settings: Any):
        self.criterion, self.n_clusters, self.preset = criterion, n_clusters, preset
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
                           context=self.context)
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

    def audit(self, attribute: str, values: list[str] | str | None = None, threshold: float = 0.10, *,
              fix: bool = False, step: str = "assign", instruction: str | None = None) -> dict[str, Any]:
        """Fairness audit of the fitted result (IC|TC paper §4.4, Fig. 5b): how `attribute` (e.g.
        "perceived gender"), as the VLM perceives it in each image, spreads over the clusters. The values
        are the model's perception, not facts about the people pictured.

        values: the answers allowed besides "unclear" (a list or "man,woman"); None proposes them from a
        sample and returns {"proposed_values": [...]} without auditing: call again with the values you
        confirm. threshold: the share gap (0..1) over which a cluster is flagged. fix: apply the suggested
        instruction (or `instruction`) at `step` as a refinement (the fitted result moves to the new
        version), then audit again; the returned audit then holds "before" and "comparison".
        Returns the audit (evaluation/audit.py: per-cluster counts, shares, disparity, flagged; baseline;
        summary), also kept in `audit_`. Raises UsageError for bad values or when there is nothing to fix."""
        from ictc.graph.audit import audit_run, fix_run

        result = audit_run(self.run_dir_, attribute, values, threshold, context=self.context)
        if result.audit is None:
            return {"attribute": attribute, "proposed_values": result.proposal or []}
        self.audit_: dict[str, Any] = result.audit
        if fix:
            fixed = fix_run(self.run_dir_, result.audit, step, instruction, context=self.context)
            assert fixed is not None and fixed.after.audit is not None  # no confirm: always applied
            self._store(fixed.refined)
            self.audit_ = fixed.after.audit
        return self.audit_
