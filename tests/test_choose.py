"""Step 3: constrained choice, schema answers, re-asks, and the stated mapping rule."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from ictc.models.choose import exact_name, map_to_name, string_match

from fakes import FakeLLM, fake_context

NAMES = ["Wild animal", "Pet", "Vehicle"]


def test_exact_name_ignores_case_punctuation_and_article():
    assert exact_name("  a pet. ", NAMES) == "Pet"
    assert exact_name("vehicles", NAMES) is None


def test_string_rule():
    assert string_match("It is a pet, clearly", NAMES) == "Pet"  # contains one name
    assert string_match("wild", NAMES) == "Wild animal"  # contained in one name
    assert string_match("Vehicel", NAMES) == "Vehicle"  # close spelling
    assert string_match("airplane", NAMES) is None


def test_mapping_falls_back_to_embeddings_and_never_random():
    ctx = fake_context()
    choice = map_to_name("lion", NAMES, "a lion in the savanna", ctx.embedder)
    assert choice == map_to_name("lion", NAMES, "a lion in the savanna", ctx.embedder)
    assert choice.route == "mapped-embedding" and choice.name in NAMES
    assert map_to_name("car", NAMES, "", ctx.embedder).name == "Vehicle"
    assert map_to_name("", NAMES, "a truck on a road", ctx.embedder).name == "Vehicle"


def _retry(answer):
    return [HumanMessage(content=f'"{answer}" is not one of the categories.')]


def _messages(description: str):
    listing = "\n".join(f"- {n}" for n in NAMES)
    return [SystemMessage("You sort images into categories"), HumanMessage(f"{listing}\n\nImage description: {description}")]


def test_answer_outside_names_is_reasked_then_mapped_with_route_recorded():
    llm = FakeLLM(assign_answer="an airplane")
    ctx = fake_context(llm=llm, assign_retries=1)
    choice = ctx.chooser.choose(_messages("a jet"), NAMES, "a jet", _retry)
    assert len(llm.calls) == 2 and '"an airplane" is not one of' in llm.calls[1]["prompt"]
    assert choice.route == "mapped-embedding" and choice.name in NAMES and choice.answer == "an airplane"


def test_direct_answer_route_is_the_mode_used():
    ctx = fake_context()
    choice = ctx.chooser.choose(_messages("my Pet at home"), NAMES, "my Pet at home", _retry)
    assert (choice.name, choice.route) == ("Pet", "text")
