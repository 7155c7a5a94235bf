"""Step 3 asked with the names in rotated orders (setting choice_orders, issue 18): a calibrated choice that
leans to the first name listed is averaged over the orders."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ictc.graph.run import start_run
from ictc.models.calibrated import LogprobChooser, across_orders, rotated
from ictc.models.choose import Choice
from ictc.prompts import make_criterion

from fakes import fake_context, make_images

pytestmark = pytest.mark.levers  # the defaults, levers on


class FirstListed(BaseChatModel):
    """First-token log-probabilities that lean to the first name listed more than to the right one, when an
    image is described (a content-free "N/A" prompt shows no lean, so calibration cannot remove it)."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "fake-first-listed"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.calls += 1
        text = messages[-1].content
        description = text.split("Image description: ")[1].split("\n")[0].lower()
        names = re.findall(r"^- (.+)$", text, flags=re.MULTILINE)
        described = description != "n/a"
        top = [{"token": n, "logprob": -1.0 + 0.3 * (n in description) + 0.5 * (described and i == 0)}
               for i, n in enumerate(names)]
        top.sort(key=lambda t: -t["logprob"])
        metadata = {"logprobs": {"content": [{**top[0], "top_logprobs": top}]}} if kwargs.get("logprobs") else {}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=top[0]["token"],
                                                                        response_metadata=metadata))])


class Refuse:
    def choose(self, messages, names, description, retry):
        return Choice(names[-1], "schema", names[-1])


def test_rotated_orders_undo_a_lean_to_the_first_name(tmp_path):
    paths, labels = make_images(tmp_path / "img", {"red": 2, "green": 2, "blue": 2})
    for orders, acc in ((1, 2 / 6), (3, 1.0), (2, 1.0)):
        model = FirstListed()
        ctx = fake_context(assign_by_label="off", embedding_prior="off", choice_orders=orders)
        ctx = replace(ctx, chooser=LogprobChooser(model, fallback=Refuse()))
        result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / f"run-{orders}",
                           labels=str(labels), context=ctx)
        assert result.results["metrics"]["acc"] == pytest.approx(acc)
        assert result.results["levers"]["choice_orders"] == orders
        assert result.results["routes"] == ({"logprobs": 6} if orders == 1 else {"logprobs+orders": 6})
        # one call per image and order, plus one content-free prior per order
        assert model.calls == 6 * orders + orders
        assert result.results["calls"]["assign"]["model_calls"] == model.calls


def test_rotations_and_the_mean_over_orders():
    assert rotated(["a", "b", "c"], 3) == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert rotated(["a", "b", "c", "d"], 2) == [["a", "b", "c", "d"], ["c", "d", "a", "b"]]
    assert rotated(["a", "b"], 5) == [["a", "b"], ["b", "a"]]  # at most one listing per name
    names = ["a", "b", "c"]
    asked = [(names, Choice("a", "logprobs", "a", 1, (0.5, 0.3, 0.0))),
             (["b", "c", "a"], Choice("b", "logprobs", "b", 1, (0.5, 0.0, 0.0)))]  # scores follow the order
    combined = across_orders(asked, names)
    assert combined.name == "b" and combined.route == "logprobs+orders" and combined.calls == 2
    assert combined.scores == pytest.approx((0.25, 0.4, 0.0))
    fell_back = [(names, Choice("a", "logprobs", "a", 1, (0.5, 0.3, 0.0))), (["b", "c", "a"], Choice("c", "schema", "c", 2))]
    assert across_orders(fell_back, names) == Choice("a", "logprobs", "a", 3, (0.5, 0.3, 0.0))


class FailsOnRotations(FirstListed):
    """As FirstListed, but a call with the names rotated (not starting with the first name) times out."""

    first: str = ""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        listed = re.findall(r"^- (.+)$", messages[-1].content, flags=re.MULTILINE)
        self.first = self.first or listed[0]
        if "N/A" not in messages[-1].content and listed[0] != self.first:
            raise TimeoutError("the rotated order timed out")
        return super()._generate(messages, stop, run_manager, **kwargs)


def test_a_rotated_order_that_fails_leaves_the_image_its_first_choice(tmp_path):
    """Review: one failed rotation failed the whole image and threw away the choice already scored."""
    paths, labels = make_images(tmp_path / "img", {"red": 2, "green": 2, "blue": 2})
    ctx = fake_context(assign_by_label="off", embedding_prior="off", choice_orders=2)
    ctx = replace(ctx, chooser=LogprobChooser(FailsOnRotations(), fallback=Refuse()))
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", labels=str(labels),
                       context=ctx)
    assert result.results["summary"]["failed"] == 0
    assert result.results["routes"] == {"logprobs+orders": 6}
