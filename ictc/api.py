"""The Python API: an estimator with scikit-learn's contract and one verb per edit, as in BERTopic."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from ictc.core.errors import UsageError
from ictc.edits import EditVerbs

if TYPE_CHECKING:
    from ictc.core.settings import Settings
    from ictc.graph.session import RunResult
    from ictc.nodes.context import Context

# constructor parameters that are run settings (core/settings.py); None leaves the setting to the environment
SETTING_PARAMS = ("backend", "vlm", "llm", "base_url", "vlm_base_url", "llm_base_url", "concurrency",
                  "batch_size", "image_max_side", "device", "seed", "workspace")


class ICTC(EditVerbs, ClusterMixin, BaseEstimator):
    """Cluster images by a criterion stated in words (IC|TC, Kwon et al., ICLR 2024).

    Parameters are stored as given (scikit-learn's contract: `get_params`, `set_params` and
    `sklearn.base.clone` work); the work happens in `fit`. Results end in `_`.

    criterion: what to group by, in words ("mood of the person"); may be None with a `preset`.
    n_clusters: K, the number of clusters (>= 2), or "auto": K proposed after Step 2a, the best candidate
        taken (the proposal is in k_choice_).
    preset: a preset criterion with tuned per-step hints (see prompts/presets.json).
    instructions: extra instructions per step, {"describe" | "label" | "name_clusters" | "assign" | "all"
        (or the aliases 1, 2a, 2b, 3): [text, ...]}.
    backend, vlm, llm, base_url, vlm_base_url, llm_base_url, concurrency, batch_size, image_max_side
        (pixels), device, seed, workspace: run settings as in `.env.example`; None keeps the setting from
        the environment (ICTC_* variables) or its default. A `.env` file is read only by `from_env`.
    cluster_names: the user's own categories (a list or "a,b,c"): Step 2b is skipped, K is their number.
    other: let Step 3 answer "other" when none of the names fits (its size in other_size_).
    out_dir: the run folder (default: a new temporary folder).
    context: a runtime context with models already loaded (tests, notebooks); it replaces the models
        and settings named above.

    >>> model = ICTC(criterion="mood of the person", n_clusters=4, backend="openai").fit("photos/")
    >>> model.cluster_names_, model.labels_[:5]
    """

    def __init__(self, criterion: str | None = None, n_clusters: int | str = 3, *, preset: str | None = None,
                 instructions: dict[str, list[str]] | None = None, backend: str | None = None,
                 vlm: str | None = None, llm: str | None = None, base_url: str | None = None,
                 vlm_base_url: str | None = None, llm_base_url: str | None = None,
                 concurrency: int | None = None, batch_size: int | None = None, image_max_side: int | None = None,
                 device: str | None = None, seed: int | None = None, workspace: str | None = None,
                 cluster_names: list[str] | str | None = None, other: bool = False,
                 out_dir: str | Path | None = None, context: Context | None = None):
        self.criterion = criterion
        self.n_clusters = n_clusters
        self.preset = preset
        self.instructions = instructions
        self.backend = backend
        self.vlm = vlm
        self.llm = llm
        self.base_url = base_url
        self.vlm_base_url = vlm_base_url
        self.llm_base_url = llm_base_url
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.image_max_side = image_max_side
        self.device = device
        self.seed = seed
        self.workspace = workspace
        self.cluster_names = cluster_names
        self.other = other
        self.out_dir = out_dir
        self.context = context

    @classmethod
    def from_env(cls, env_file: str | Path = ".env", **params: Any) -> ICTC:
        """An estimator whose settings also come from `env_file` (ICTC_* and OPENAI_* lines), read now.

        The file's variables are loaded into the process environment without overriding ones already
        set, so `fit` sees them as it sees any environment variable; `params` are constructor parameters.
        Raises UsageError when the file does not exist."""
        from dotenv import load_dotenv

        if not Path(env_file).is_file():
            raise UsageError(f"settings file not found: {env_file}")
        load_dotenv(env_file, override=False)
        return cls(**params)

    # --- fitting -------------------------------------------------------------------------------------

    def _settings(self) -> Settings:
        from ictc.core.settings import load_settings

        if self.context is not None:
            return self.context.settings
        return load_settings({name: getattr(self, name) for name in SETTING_PARAMS}, env_file=None)

    def _criterion(self) -> Any:
        from ictc.prompts import make_criterion

        criterion = make_criterion(self.criterion, self.preset)
        for step, texts in (self.instructions or {}).items():
            for text in texts:
                criterion = criterion.with_instruction(text, step)
        return criterion

    def fit(self, X: str | Path | Sequence[Any], y: Any = None) -> ICTC:  # noqa: N803 (scikit-learn's name)
        """Describe, label, name and assign the images of `X`; returns self with the results set.

        X: a folder (searched recursively), a list of image paths, or a list of PIL images (saved as PNG
        files in the run folder's `inputs/` first). y: ignored (scikit-learn's convention).
        Sets labels_ (np.ndarray of int, shape (n_images,): the cluster index of each image in
        image_paths_ order, -1 for an image that failed), cluster_names_, n_clusters_, image_paths_,
        descriptions_, raw_labels_, results_ (results.json as a dict), run_dir_, version_.
        Raises UsageError for bad input (no images, K out of range, empty criterion) before any model
        call, and ModelUnavailableError when a model cannot be loaded or reached."""
        from ictc.graph.run import start_run

        out = Path(self.out_dir) if self.out_dir else Path(tempfile.mkdtemp(prefix="ictc-run-"))
        self._set_result(start_run(self._images(X, out), self._criterion(), self.n_clusters, self._settings(),
                                   out, context=self.context, names=self.cluster_names, other=self.other))
        return self

    @staticmethod
    def _images(X: str | Path | Sequence[Any], out: Path) -> str | Path | list[str]:  # noqa: N803
        if isinstance(X, str | Path):
            return X
        items = list(X)
        if not all(hasattr(item, "save") and hasattr(item, "mode") for item in items):
            return [str(item) for item in items]
        inputs = out / "inputs"  # PIL images: the pipeline reads files, so they are written once, losslessly
        inputs.mkdir(parents=True, exist_ok=True)
        paths = []
        for number, image in enumerate(items):
            path = inputs / f"image-{number:06d}.png"
            image.save(path)
            paths.append(str(path))
        return paths

    def fit_predict(self, X: str | Path | Sequence[Any], y: Any = None, **kwargs: Any) -> np.ndarray:  # noqa: N803
        """fit(X), then labels_: np.ndarray of int, shape (n_images,), -1 for an image that failed."""
        return self.fit(X).labels_

    def _set_result(self, result: RunResult) -> None:
        rows = result.results["images"] if not result.rows else result.rows
        self.run_dir_ = result.run_dir
        self.results_ = result.results
        self.cluster_names_ = list(result.results["cluster_names"])
        self.n_clusters_ = len(self.cluster_names_)
        self.image_paths_ = [r["image"] for r in rows]
        index = {name: i for i, name in enumerate(self.cluster_names_)}
        self.labels_ = np.array([index.get(r["cluster"], -1) for r in rows], dtype=int)
        self.descriptions_ = [r["description"] for r in rows]
        self.raw_labels_ = [r["raw_label"] for r in rows]
        self.metrics_ = result.results.get("metrics")
        if result.version is None and hasattr(self, "version_"):  # an edit that changed nothing made no version
            self.changes_: dict[str, Any] | None = {"renamed": {}, "merged": {}, "moved": []}
        else:
            self.version_, self.changes_ = result.version, result.changes
        self._store_groupings(result.results)

    def _fitted_run(self) -> Path:
        if not hasattr(self, "run_dir_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this ICTC instance is not fitted yet: call fit first")
        return Path(self.run_dir_)

    def evaluate(self, y_true: str | Path | Sequence[Any]) -> dict[str, Any]:
        """ACC (Hungarian matching), NMI and ARI of the fitted clusters against ground truth.

        y_true: a CSV file with columns image,label, or one label per image in image_paths_ order.
        Returns {"acc", "nmi", "ari", "n", ...} (evaluation/metrics.py) and sets metrics_.
        Raises UsageError when the labels match no image or their count differs from the images'."""
        from ictc.evaluation.results import evaluate_run

        run_dir = self._fitted_run()
        if not isinstance(y_true, str | Path):
            truth = list(y_true)
            if len(truth) != len(self.image_paths_):
                raise UsageError(f"{len(truth)} labels for {len(self.image_paths_)} images")
            y_true = run_dir / "labels-given.csv"
            import csv

            with open(y_true, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["image", "label"])
                writer.writerows(zip(self.image_paths_, truth, strict=True))
        self.metrics_ = evaluate_run(run_dir, str(y_true)).as_dict()
        return self.metrics_

    def audit(self, attribute: str, values: list[str] | str | None = None, threshold: float = 0.10, *,
              fix: bool = False, step: str | None = None, instruction: str | None = None) -> dict[str, Any]:
        """Fairness audit of the fitted result (IC|TC paper §4.4, Fig. 5b): how `attribute` (e.g.
        "perceived gender"), as the VLM perceives it in each image, spreads over the clusters. The values
        are the model's perception, not facts about the people pictured.

        values: the answers allowed besides "unclear" (a list or "man,woman"); None proposes them from a
        sample and returns {"proposed_values": [...]} without auditing: call again with the values you
        confirm. threshold: the share gap (0..1) over which a cluster is flagged. fix: apply the suggested
        instruction (or `instruction`) at `step` (None: the suggestion's step, Step 3 unless it has it) as a refinement (the fitted result moves to the new
        version), then audit again; the returned audit then holds "before" and "comparison".
        Returns the audit (evaluation/audit.py: per-cluster counts, shares, disparity, flagged; baseline;
        summary), also kept in `audit_`. Raises UsageError for bad values or when there is nothing to fix."""
        from ictc.graph.audit import audit_run, fix_run

        result = audit_run(self._fitted_run(), attribute, values, threshold, context=self.context)
        if result.audit is None:
            return {"attribute": attribute, "proposed_values": result.proposal or []}
        self.audit_: dict[str, Any] = result.audit
        if fix:
            fixed = fix_run(self._fitted_run(), result.audit, step, instruction, context=self.context)
            assert fixed is not None and fixed.after.audit is not None  # no confirm: always applied
            self._set_result(fixed.refined)
            self.audit_ = fixed.after.audit
        return self.audit_

    # issue 21: K proposed, the user's names, "other", levels, several criteria -------------------------------
    def _store_groupings(self, results: dict[str, Any]) -> None:
        """`k_choice_` (the K proposal and choice, None when K was given), `tree_` (the coarser levels down to
        the first clusters, [] when none), `other_size_` (images in "other", None without that group)."""
        self.k_choice_ = results.get("k_choice")
        self.tree_ = results.get("tree", [])
        self.other_size_ = results["other"]["size"] if "other" in results else None

    def add_criterion(self, criterion: str, n_clusters: int | str = "auto", *, preset: str | None = None,
                      cluster_names: list[str] | str | None = None, other: bool = False) -> ICTC:
        """Cluster the fitted images by one more criterion (models and stores shared); the run folder becomes
        a group of criteria. Returns a new fitted estimator for that criterion (compare with `crosstab`)."""
        from ictc.graph.criteria import CriterionRequest, add_criterion
        from ictc.prompts import make_criterion

        folder = getattr(self, "group_dir_", None) or self._fitted_run()
        from ictc.nodes.user_names import parse_names

        request = CriterionRequest(make_criterion(criterion, preset), 0 if cluster_names else n_clusters,
                                   parse_names(cluster_names) if cluster_names else None, other)
        fitted = ICTC(**{**self.get_params(), "criterion": criterion, "n_clusters": n_clusters, "preset": preset,
                         "instructions": None, "cluster_names": cluster_names, "other": other, "out_dir": None})
        fitted._set_result(add_criterion(folder, request, context=self.context))
        fitted.group_dir_ = self.group_dir_ = folder
        return fitted

    def crosstab(self, other: ICTC | str) -> Any:
        """Images counted per pair of clusters: this criterion's (rows) by `other`'s (columns), where `other`
        is a fitted estimator on the same images or a criterion of this group. Returns an
        evaluation.crosstab.CrossTab (rows, columns, counts; to_dict()); heat_map_png(tab) draws it."""
        import json

        from ictc.evaluation.crosstab import criterion_entry, criterion_results, crosstab

        group = getattr(self, "group_dir_", self._fitted_run())
        other_run = Path(other.run_dir_) if isinstance(other, ICTC) else Path(group) / criterion_entry(group, other)["run"]
        if other_run.resolve() == self._fitted_run().resolve():  # a criterion against itself is no cross-tab
            name = other if isinstance(other, str) else other_run.name
            raise UsageError(f"{name!r} is this estimator's own run ({other_run}): a cross-tab needs another criterion")
        other_results = json.loads((other_run / "results.json").read_text("utf-8")) if isinstance(other, ICTC) \
            else criterion_results(group, other)
        return crosstab(self.results_, other_results)
