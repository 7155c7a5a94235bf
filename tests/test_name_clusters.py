"""Step 2b: label counting and trimming, exactly-K validation, retries and the stated fallback."""

from __future__ import annotations

from collections import Counter

from langgraph.runtime import Runtime

from ictc.nodes.label_counts import count_labels, group_labels, normalize_label, trim_counts
from ictc.nodes.name_clusters import check_names, fallback_names, name_clusters, parse_names
from ictc.prompts import make_criterion

from fakes import FakeLLM, fake_context


def test_normalize_label_case_whitespace_articles_plurals():
    assert normalize_label("  The  Cats ") == "cat"
    assert normalize_label("a Fox") == "fox"
    assert normalize_label("Boxes!") == "box"
    assert normalize_label("berries") == "berry"
    assert normalize_label("glass") == "glass"
    assert normalize_label("sports cars") == "sports car"
    assert count_labels(["Cat", "cats", "the cat", "dog", ""]) == Counter({"cat": 3, "dog": 1})


def test_trim_by_min_count_and_token_budget_drops_rarest_and_records_them():
    counts = Counter({"cat": 9, "dog": 7, "frog": 2, "ant": 1, "bee": 1})
    kept, dropped = trim_counts(counts, k=2, min_count=2, token_budget=10_000)
    assert kept == {"cat": 9, "dog": 7, "frog": 2} and dropped == {"ant": 1, "bee": 1}
    kept, dropped = trim_counts(counts, k=2, min_count=1, token_budget=8)  # each line costs ~3 tokens
    assert list(kept) == ["cat", "dog"] and list(dropped) == ["frog", "ant", "bee"]


def test_min_count_is_lowered_rather_than_leaving_fewer_than_k_labels():
    kept, dropped = trim_counts(Counter({"cat": 5, "dog": 1, "eel": 1}), k=3, min_count=4, token_budget=10_000)
    assert list(kept) == ["cat", "dog", "eel"] and dropped == {}


def test_group_labels_puts_similar_labels_together():
    fake = fake_context()
    groups = group_labels({"cat": 3, "kitten": 2, "truck": 3, "lorry": 1}, 2, fake.embedder)
    assert sorted(map(sorted, groups)) == [["cat", "kitten"], ["lorry", "truck"]]


def test_parse_and_check_names():
    assert parse_names('Sure! {"names": ["Cat", " Dog "]}') == ["Cat", "Dog"]
    assert parse_names("1. Cat\n2) Dog\n- Bird") == ["Cat", "Dog", "Bird"]
    assert check_names(["Cat", "cat", "", "Dog"], 2) == (["Cat", "Dog"], "2 names were empty or repeated")
    names, problem = check_names(["Cat"], 2)
    assert problem == "it has 1 distinct name (Cat), not 2"  # one name, said in the singular


def test_fallback_fills_from_frequent_labels_then_other():
    assert fallback_names(["Cats", "Dogs", "Birds"], {"cat": 3}, 2) == ["Cats", "Dogs"]
    # fewer kinds than K: fewer names, none invented (a padded "other" was Step 3's none-of-these group)
    assert fallback_names(["Cat"], {"cat": 3, "dog": 2}, 3) == ["Cat", "dog"]


def _state(k: int):
    labels = {f"img{i}": {"raw": raw} for i, raw in enumerate(["red", "red", "green", "blue"])}
    images = [{"path": path, "sha256": path} for path in labels]
    return {"images": images, "criterion": make_criterion("colour").to_dict(), "n_clusters": k, "labels": labels}


def test_wrong_number_of_names_is_reasked_with_the_problem_stated():
    llm = FakeLLM(names_override=[["Red", "Red", "Green"], ["Red", "Green", "Blue"]])
    ctx = fake_context(llm=llm, names_from_labels="off")  # 3 labels for K=3 would need no call
    naming = name_clusters(_state(3), Runtime(context=ctx))["naming"]
    assert naming["names"] == ["Red", "Green", "Blue"] and naming["source"] == "model" and naming["attempts"] == 2
    assert "1 names were empty or repeated" in llm.calls[1]["prompt"]


def test_fallback_after_bounded_retries():
    llm = FakeLLM(names_override=[["Red"]])
    ctx = fake_context(llm=llm, name_retries=3, names_from_labels="off")
    naming = name_clusters(_state(3), Runtime(context=ctx))["naming"]
    assert len(llm.calls) == 3
    assert naming["source"] == "fallback" and naming["names"] == ["Red", "blue", "green"]  # ties: alphabetical
    assert len(naming["problems"]) == 3
