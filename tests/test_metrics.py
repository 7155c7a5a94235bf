"""Metrics against hand-computed cases, including more or fewer clusters than classes."""

from __future__ import annotations

import pytest

from ictc.evaluation.labels import match_labels
from ictc.evaluation.metrics import score


def test_perfect_clustering_with_other_names():
    s = score(["x", "x", "y", "y"], ["cat", "cat", "dog", "dog"])
    assert (s.acc, s.nmi, s.ari) == (1.0, 1.0, 1.0)
    assert s.matching == {"x": "cat", "y": "dog"}


def test_hungarian_beats_majority_vote():
    # majority vote would map both clusters to "a"; the one-to-one matching gives 2 + 1 = 3 of 5
    s = score(["p", "p", "p", "q", "q"], ["a", "a", "b", "a", "b"])
    assert s.acc == pytest.approx(3 / 5)


def test_more_clusters_than_classes():
    # 3 clusters, 2 classes: one cluster stays unmatched and its images count as wrong
    s = score(["u", "u", "v", "v", "w", "w"], ["a", "a", "b", "b", "a", "b"])
    assert s.acc == pytest.approx(4 / 6)
    assert len(s.contingency) == 3 and len(s.contingency[0]) == 2


def test_fewer_clusters_than_classes():
    s = score(["u", "u", "u", "v"], ["a", "b", "c", "c"])
    assert s.acc == pytest.approx(2 / 4)


def test_known_nmi_and_ari_values():
    s = score(["0", "0", "1", "1"], ["a", "b", "a", "b"])
    assert s.nmi == pytest.approx(0.0, abs=1e-12) and s.ari == pytest.approx(-0.5)


def test_empty_clusters_in_run_order_are_kept():
    s = score(["u", "u"], ["a", "a"], cluster_order=["v", "u"])
    assert s.clusters == ["u", "v"] and s.contingency == [[2], [0]]


def test_labels_match_by_path_then_unique_file_name():
    labels = {"/data/a.png": "cat", "other/b.png": "dog", "x/c.png": "eel", "y/c.png": "cod", "v/d.png": "ant",
              "w/d.png": "ant"}
    # c.png: two rows fit equally well with different labels, so neither; d.png: both rows say "ant"
    assert match_labels(["/data/a.png", "mine/b.png", "z/c.png", "z/d.png"], labels) == {
        "/data/a.png": "cat", "mine/b.png": "dog", "z/d.png": "ant"}


def test_the_confusion_table_sorts_names_as_a_reader_looks_them_up():
    from ictc.evaluation.metrics import contingency

    _, clusters, classes = contingency(["b", "A", "a"], ["Loafer", "airplane", "bald eagle"])
    assert classes == ["airplane", "bald eagle", "Loafer"] and clusters == ["A", "a", "b"]  # not "Loafer" first
