"""ACC by Hungarian matching (any number of clusters vs classes), NMI, ARI, and the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ictc.core.errors import UsageError


@dataclass
class Scores:
    """ACC, NMI, ARI of the n scored images, the contingency table and the matching (score()), and how
    many of the run's images were scored (images, failed, unlabelled, ambiguous, not_clustered, warning)."""

    acc: float
    nmi: float
    ari: float
    n: int
    clusters: list[str]
    classes: list[str]
    contingency: list[list[int]]  # rows: clusters, columns: classes
    matching: dict[str, str]  # cluster -> class it was matched to (unmatched clusters absent)
    # coverage, set by evaluation/results.py: the run's images, those scored (n), and why the rest were not
    images: int = 0
    unlabelled: list[str] = field(default_factory=list)  # images no row of the labels file names
    ambiguous: list[str] = field(default_factory=list)  # images named only by rows that name several images each
    not_clustered: list[str] = field(default_factory=list)  # labelled images unfinished (a stopped run)
    failed: list[str] = field(default_factory=list)  # images that failed (named in the labels file or not)
    warning: str = ""  # says so when not every image was scored, and what of the labels file was left out
    note: str = ""  # how the labels file was read, when that is worth knowing (not a warning: nothing is wrong)

    def as_dict(self) -> dict:
        """The fields as a dict (a shallow copy: the lists are shared), for results.json."""
        return self.__dict__.copy()


def contingency(predicted: list[str], truth: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Counts of images per (cluster, class): `predicted` and `truth` are one name per image, same length.
    Returns (table of shape (clusters, classes), int64; the sorted cluster names; the sorted class names:
    case-insensitive, as a reader looks them up). Raises ValueError when the lengths differ."""
    def readable(names: set[str]) -> list[str]:
        return sorted(names, key=lambda name: (name.casefold(), name))

    clusters, classes = readable(set(predicted)), readable(set(truth))
    table = np.zeros((len(clusters), len(classes)), dtype=np.int64)
    row, col = {c: i for i, c in enumerate(clusters)}, {c: i for i, c in enumerate(classes)}
    for p, t in zip(predicted, truth, strict=True):
        table[row[p], col[t]] += 1
    return table, clusters, classes


def score(predicted: list[str], truth: list[str], cluster_order: list[str] | None = None) -> Scores:
    """ACC: the best one-to-one matching of clusters to classes (rectangular when their numbers
    differ: unmatched clusters count as wrong), over all images."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if not predicted:
        raise UsageError("no image has both a cluster and a ground-truth label")
    table, clusters, classes = contingency(predicted, truth)
    if cluster_order:  # rows in the run's order, including empty clusters
        order = [c for c in cluster_order if c in clusters] + [c for c in clusters if c not in cluster_order]
        extra = [c for c in cluster_order if c not in clusters]
        table = np.vstack([table[[clusters.index(c) for c in order]], np.zeros((len(extra), len(classes)), np.int64)])
        clusters = order + extra
    rows, cols = linear_sum_assignment(-table)
    matched = int(table[rows, cols].sum())
    return Scores(acc=matched / len(predicted), nmi=float(normalized_mutual_info_score(truth, predicted)),
                  ari=float(adjusted_rand_score(truth, predicted)), n=len(predicted), clusters=clusters,
                  classes=classes, contingency=table.tolist(),
                  matching={clusters[r]: classes[c] for r, c in zip(rows, cols, strict=True) if table[r, c] > 0})


CELL_INCHES = 0.45  # one cell of the confusion plot: 45 px at its 100 dpi, room for a 3-digit count in 9 pt


def plot_confusion(scores: Scores, out: Path) -> None:
    """Draws the contingency table of `scores` (non-zero counts written in the cells, ACC/NMI/ARI in the
    title) as a PNG at `out`, written through a temporary file and renamed. The longer of clusters and
    classes runs down the rows (a page scrolls down more easily than across); every cell is CELL_INCHES
    square and every label 10 pt, so the figure grows with K instead of its text shrinking (at 100 dpi it is
    meant to be shown at its own size: K = 27 by 29 classes is about 1,500 px wide)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table, rows, columns = np.array(scores.contingency), scores.clusters, scores.classes
    row_title, column_title = "cluster", "true class"
    if len(columns) > len(rows):
        table, rows, columns, row_title, column_title = table.T, columns, rows, column_title, row_title
    fig, ax = plt.subplots(figsize=(2.0 + CELL_INCHES * len(columns), 1.5 + CELL_INCHES * len(rows)))
    ax.imshow(table, cmap="Blues", aspect="equal")
    ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right", rotation_mode="anchor", fontsize=10)
    ax.set_yticks(range(len(rows)), rows, fontsize=10)
    for (r, c), v in np.ndenumerate(table):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=9,
                    color="white" if v > table.max() / 2 else "black")
    ax.set_xlabel(column_title, fontsize=10)
    ax.set_ylabel(row_title, fontsize=10)
    ax.set_title(f"ACC {scores.acc:.3f}  NMI {scores.nmi:.3f}  ARI {scores.ari:.3f}")
    fig.tight_layout()
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")  # long class or cluster names are not clipped
    plt.close(fig)
    tmp.replace(out)
