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
