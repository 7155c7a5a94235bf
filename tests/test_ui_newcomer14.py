"""What a fourteenth newcomer found: Step 2a's trace opened on a question about "activity" and a child laughing,
neither theirs (the worked example, setting label_example), with nothing saying so: it read as another run's
prompt leaking in."""

from __future__ import annotations

from typing import Any

from ictc.nodes.common import prompt_text
from ictc.nodes.label import label_prompt
from ictc.prompts import Criterion
from ictc.ui import views


class _Page:
    """Records what views.trace_box draws (captions and code blocks, in order)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def expander(self, title: str) -> _Page:
        self.lines.append(title)
        return self

    def __enter__(self) -> _Page:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def markdown(self, text: str) -> None:
        self.lines.append(text)

    def caption(self, text: str) -> None:
        self.lines.append(text)

    def code(self, text: str, **kwargs: Any) -> None:
        self.lines.append(text)

    def json(self, value: Any, **kwargs: Any) -> None:
        self.lines.append(str(value))


def _drawn(monkeypatch: Any, example: bool) -> list[str]:
    page = _Page()
    monkeypatch.setattr(views, "st", page)
    prompt = prompt_text(label_prompt("label", Criterion("kind of object"), "A green frog. It sits on a leaf.", example))
    views.trace_box("label", {"prompt": prompt, "output": "frog", "model": "m", "seconds": 0.1, "cached": False,
                              "version": 1})
    return page.lines


def test_step_2a_trace_says_the_worked_example_is_not_one_of_the_users_images(monkeypatch: Any):
    lines = _drawn(monkeypatch, example=True)
    said = [line for line in lines if "worked example" in line]
    assert len(said) == 1 and "not one of your images" in said[0] and "ICTC_LABEL_EXAMPLE" in said[0], lines
    assert lines.index(said[0]) < next(i for i, line in enumerate(lines) if "Criterion: activity" in line)


def test_step_2a_trace_without_the_example_says_nothing_of_it(monkeypatch: Any):
    assert not any("worked example" in line for line in _drawn(monkeypatch, example=False))


def test_a_setting_named_in_the_chat_is_told_where_settings_are_set():
    """Having read "ICTC_LABEL_EXAMPLE=off leaves the example out" in a trace, a newcomer typed it in the chat: it
    was "I could not tell what to group by or what to change", and "don't use WordNet" would have become an
    instruction to every step, redoing them all."""
    from ictc.ui.conversation import Conversation
    from ictc.ui.intent import read_intent

    names = ["Green", "Red"]
    for text in ("set ICTC_LABEL_EXAMPLE=off", "ICTC_LABEL_KINDS=off", "don't use WordNet", "turn off the worked example",
                 "which settings were used?"):
        intent = read_intent(text, names)
        assert intent.kind == "unclear" and intent.problem.startswith("settings are not changed in the chat"), text
        assert intent.action is None, text
    said = Conversation().answer("set ICTC_LABEL_EXAMPLE=off", names, 10).text
    assert ".env or the environment where `ictc ui` starts" in said and "results.json" in said, said
    # a criterion that says "setting" is still one
    assert read_intent("group by the setting of the photo, 3 groups", []).criterion == "setting of the photo"


def test_the_grouping_tab_says_what_wordnet_is_beside_the_labels_joined_as_their_kind(monkeypatch: Any):
    """The Grouping tab had "(WordNet; ...)" alone, as the CLI and report.html had: a newcomer asked what it was."""
    from ictc.ui import crosstab_view

    page = _Page()
    monkeypatch.setattr(crosstab_view, "st", page)
    crosstab_view.grouping({"naming": {"label_kinds": {"pony": "horse"}}, "routes": {"kind": 2}})
    said = [line for line in page.lines if "pony → horse" in line]
    assert len(said) == 1 and "an English dictionary of which word is a kind of which" in said[0], page.lines
