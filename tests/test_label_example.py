"""Step 2a's worked example (setting label_example, issue 18's fourteenth pass): where it goes in the prompt, and
that a run records it and asks with it."""

from __future__ import annotations

import pytest

from ictc.graph.run import start_run
from ictc.nodes.label import echoes_prompt, label_prompt, several_sentences, without_echoes
from ictc.prompts import make_criterion

from fakes import FakeLLM, fake_context, make_images

pytestmark = pytest.mark.levers  # the defaults, levers on


def test_the_example_is_a_user_turn_and_its_answer_before_the_question():
    criterion = make_criterion("kind of object")
    plain = label_prompt("label", criterion, "A cat on a mat.", example=False)
    shown = label_prompt("label", criterion, "A cat on a mat.", example=True)
    assert [role for role, _ in plain] == ["system", "user"]
    assert [role for role, _ in shown] == ["system", "user", "assistant", "user"]
    assert shown[0] == plain[0] and shown[-1] == plain[-1]  # the question itself is unchanged
    assert "Criterion: activity" in shown[1][1] and "small dog" in shown[1][1] and shown[2][1] == "laughing"
    # the JSON template of label_levels=json has its own form: no example
    assert label_prompt("label_levels", criterion, "d", example=True) == label_prompt("label_levels", criterion, "d", False)


def test_the_example_is_for_descriptions_of_several_sentences_only():
    # the caption kind of issue 18 ("A goat.") names one thing: no example there (it cost 3-5 images of 48-60)
    assert not several_sentences("A goat.") and not several_sentences("Tennis racquet and ball.")
    assert not several_sentences("  A pair of pants.  ") and not several_sentences("v2.0 of a 3.5 inch drive")
    assert several_sentences("A grey tabby peers at the camera. On a shelf sits a toy airplane.")
    assert several_sentences("A frog! Is it wet? Yes")


def test_an_abbreviation_or_an_initial_ends_no_sentence():
    # one-line captions, each had been read as two sentences and given the example
    for caption in ("Mr. Smith walks his dog.", "A 3.5 in. floppy disk.", "A cat, e.g. a tabby.", "A U.S. Army truck.",
                    "J. R. R. Tolkien's book.", "Dr. Who's blue box"):
        assert not several_sentences(caption), caption
    # a sentence ending inside quotes or brackets, and Chinese full stops, end sentences (both had read as one)
    assert several_sentences('A sign reads "STOP." A cat sits below it.')
    assert several_sentences("A cat sits (on a mat.) A dog sleeps.")
    assert several_sentences("一只猫坐在垫子上。架子上有一架玩具飞机。")
    assert several_sentences("Mr. Smith walks his dog. It rains.")


def test_a_run_asks_with_the_example_and_records_it(tmp_path):
    paths, _ = make_images(tmp_path / "img", {"red": 2, "green": 2})  # the fake VLM's descriptions: two sentences
    seen = {}
    for mode in ("on", "off"):
        llm = FakeLLM()
        ctx = fake_context(llm=llm, llm_id=f"fake-example-{mode}", label_example=mode)
        results = start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / mode, context=ctx).results
        asked = [c["prompt"] for c in llm.calls if "short labels" in c["prompt"] and "filled with" in c["prompt"]]
        seen[mode] = (results, asked)
    on, off = seen["on"], seen["off"]
    assert on[0]["levers"]["label_example"] == "on" and off[0]["levers"]["label_example"] == "off"
    assert on[0]["prompt_hashes"]["label"] != off[0]["prompt_hashes"]["label"]
    assert on[1] and all("Criterion: activity" in p and "\nlaughing\n" in p for p in on[1])
    assert off[1] and not any("Criterion: activity" in p for p in off[1])
    assert sorted(on[0]["cluster_names"]) == sorted(off[0]["cluster_names"]) == ["green", "red"]


def test_the_examples_answer_parroted_is_an_echo_unless_the_description_says_it():
    # SmolLM2-135M labelled 12 of the 20 CIFAR photos "laughing", the example's answer
    kind = make_criterion("object")
    cat = "A grey tabby sits on a mat. A toy plane is on the shelf."
    assert echoes_prompt("Laughing", cat, kind, "label", example=True)
    assert not echoes_prompt("laughing", cat, kind, "label", example=False)  # no example: no such echo
    assert not echoes_prompt("laughing", "A boy is laughing at a clown. The tent is red.", kind, "label", example=True)
    assert not echoes_prompt("laughing", "A laughing boy.", kind, "label", example=True)  # one sentence: not shown
    records = [{"raw": "laughing"}, {"raw": "cat"}]
    assert without_echoes(records, [cat, cat], kind, "label", example=True) == ([{"raw": "cat"}], ["laughing"])


def test_the_estimate_counts_the_example_s_tokens(tmp_path):
    from ictc.cli.estimate import estimate
    from ictc.core.settings import load_settings

    make_images(tmp_path / "img", {"red": 2, "green": 1})
    criterion = make_criterion("colour")

    def input_tokens(**settings: str) -> int:
        chosen = load_settings({"backend": "openai", "workspace": str(tmp_path / "ws"), **settings}, env_file=None)
        return estimate(tmp_path / "img", criterion, 2, chosen).input_tokens

    example = label_prompt("label", criterion, "d", True)[1:3]  # the example's user turn and its answer
    extra = sum(-(-len(text) // 4) for _, text in example)
    # the example goes before every label question of a description at its cap: it had not been counted
    assert input_tokens(label_example="on") - input_tokens(label_example="off") == 3 * extra > 0
    # label_levels=json asks with its own template, which has no example
    assert input_tokens(label_example="on", label_levels="json") == input_tokens(label_example="off", label_levels="json")
