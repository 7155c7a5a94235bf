"""A sixth break-it round's VLM answers that are no description (issue 17, kinds6 k25, k35): a text-only model behind
the endpoint that says it sees no image, or gives one invented description for every image (Step 1 stops early
naming the cause), and a server that ignores the token cap and the stop (ictc cuts the descriptions and says so)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ictc.core.errors import SystematicFailureError
from ictc.graph.run import resume_run, start_run
from ictc.nodes.describe import NO_IMAGE, bounded, declined
from ictc.prompts import make_criterion

from endpoint_cli import results_of, run_on
from fake_server import FakeOpenAIServer
from fakes import FakeVLM, fake_context, make_images


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "1")



class SaidServer(FakeOpenAIServer):
    """Every image call answered with `said` (a text-only model that never got the image)."""

    def __init__(self, said: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.said = said

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, reply = super().answer(body)
        if status == 200 and "image_url" in json.dumps(body["messages"]):
            reply["choices"][0]["message"]["content"] = self.said
        return status, reply


@pytest.mark.parametrize("said", [
    "I don't see any image attached to your message. Could you please upload the image you would like me to describe?",
    "The image shows a serene mountain lake at sunset, surrounded by pine trees.",
], ids=["says_no_image", "one_invented_description"])
def test_a_vlm_that_receives_no_image_stops_step_1_early_naming_the_cause(said, folder, tmp_path, capsys):
    """k25: exit 0, every image in "Unclear"; the cause (the VLM does not see the images) unsaid."""
    with SaidServer(said) as server:
        assert run_on(server, folder, tmp_path / "run") == 3
        assert sum(r["body"]["model"] == "vision-model" for r in server.requests) <= 4  # not every image paid for
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Step 1" in err and "does not seem to receive the images" in err and "--vlm a vision model" in err


@pytest.mark.parametrize("reply", [
    "I don't see any image attached to your message.",
    "I'm unable to view images. Could you describe it in words?",
    "I cannot see the image you are referring to.",
    "No image was provided in your message, so I can't describe it.",
    "As a text-based AI, I am not able to look at pictures.",
    "It seems there is no image attached. Please upload the image again.",
])
def test_words_saying_no_image_was_seen_are_recognised(reply):
    assert NO_IMAGE.search(reply) and "sees no image" in declined(reply)


@pytest.mark.parametrize("description", [
    "A plain square filled with red. The picture is 40 pixels wide.",
    "A man holds an image of a dog; you can see the picture on the wall behind him.",
])
def test_descriptions_are_not_taken_for_no_image(description):
    assert declined(description) == ""


def test_bounded_cuts_at_the_cap_in_words_and_characters():
    assert bounded("one two three", 3) == ("one two three", False)
    assert bounded("one two three four five", 3) == ("one two three", True)
    assert bounded("字" * 100, 4) == ("字" * 32, True)


def test_a_server_that_ignores_the_cap_has_descriptions_cut_and_said(folder, tmp_path, monkeypatch, capsys):
    """k35: descriptions stored at 12,012 words for a 160-token cap, exit 0, no warning."""
    monkeypatch.setenv("ICTC_DESCRIPTION_MAX_TOKENS", "40")
    with FakeOpenAIServer(cap_field=None, ramble=400) as server:
        assert run_on(server, folder, tmp_path / "run") == 0
    found = results_of(tmp_path / "run")
    assert max(len(r["description"].split()) for r in found["images"]) == 40
    said = [w for w in found["warnings"] if "ignored the answer cap" in w]
    assert said == ["the VLM server ignored the answer cap: 8 descriptions ran past the 40-token cap and were cut by "
                    "ictc (the server, or a proxy in front of it, drops max_tokens and stop)"]
    assert "ignored the answer cap" in capsys.readouterr().out


def test_the_chat_says_why_step_1_stopped_not_an_unexpected_error():
    """The chat app's headline for this stop was "Step 1 · describe stopped: The run stopped on an unexpected error."
    (its text is too long for the headline), the cause only under Details."""
    from ictc.core.errors import SystematicFailureError
    from ictc.nodes.watch import BLIND_FIX
    from ictc.ui.outcomes import explain

    from fakes import fake_context

    cause = ("the VLM 'vision-model' does not seem to receive the images (a model without vision, or no projector): "
             "it gave one same description for 4 different images ('A plain square: please connect the dots.')")
    said = explain(str(SystematicFailureError("Step 1 (describe)", cause, BLIND_FIX)), fake_context().settings,
                   "describe")
    assert said.startswith("Step 1 · describe stopped: "), said
    assert "does not seem to receive the images" in said and "--vlm a vision model" in said, said
    assert "unexpected" not in said and "could not be reached" not in said, said


class FailsGreen(FakeVLM):
    """A server that cannot take the green images (a per-image failure, which the watch does not count)."""

    def respond(self, messages, **kwargs):
        answer = super().respond(messages, **kwargs)
        if "filled with green" in answer:
            raise TimeoutError("the image exceeds the context length")
        return answer


class Terse(FakeVLM):
    """The same VLM, answering green images in one short line: different green pictures, one same text."""

    def respond(self, messages, **kwargs):
        answer = super().respond(messages, **kwargs)
        return "A plain square filled with green." if "filled with green" in answer else answer


def test_a_continue_counts_the_earlier_passes_answers_before_calling_the_vlm_blind(tmp_path):
    """The first pass described the red images, each in its own words; Continue retried the 5 green ones, which the
    VLM answered alike: the watch had read only this pass's first four answers and stopped Step 1 ("does not seem to
    receive the images"), though the run's own answers showed it sees them. A VLM that says the same of every image
    from the start is still stopped (test above)."""
    paths, _ = make_images(tmp_path / "images", {"red": 4, "green": 5})
    first = start_run(paths, make_criterion("colour"), 2, fake_context().settings, tmp_path / "run",
                      context=fake_context(vlm=FailsGreen()))
    assert first.failed == 5
    again = resume_run(tmp_path / "run", context=fake_context(vlm=Terse()))
    assert again.failed == 0 and again.version == 2


def test_a_continue_with_another_vlm_does_not_count_the_earlier_ones_answers(tmp_path):
    """The earlier answers count only when the same VLM gave them (their store key names it): a model swapped for a
    blind one between the passes is still stopped."""
    paths, _ = make_images(tmp_path / "images", {"red": 4, "green": 5})
    start_run(paths, make_criterion("colour"), 2, fake_context().settings, tmp_path / "run",
              context=fake_context(vlm=FailsGreen()))
    swapped = fake_context(vlm=Terse())
    swapped.vlm_id = "another-vlm"
    with pytest.raises(SystematicFailureError, match="does not seem to receive the images"):
        resume_run(tmp_path / "run", context=swapped)
