"""The fairness audit in the chat app: requests read by their own small function, the proposal and
the fix wait for the user's word, the Fairness tab shows the chart, the table and before/after."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from streamlit.testing.v1 import AppTest
from test_ui_app import open_app, open_tab, say, token_of, use_folder
from test_ui_app import wait_for_job as wait

from ictc.ui.audit_intent import read_audit_request

from fakes import FakeLLM, FakeVLM, fake_context, make_marked_images, step_calls

APP = str(Path(__file__).parent.parent / "ui" / "app.py")


@pytest.mark.parametrize(("text", "attribute", "values"), [
    ("is this biased by gender?", "perceived gender", []),
    ("check age too", "perceived age", []),
    ("Is it fair with respect to skin tone?", "perceived skin tone", []),
    ("are the clusters skewed by perceived age?", "perceived age", []),
    ("check for gender bias", "perceived gender", []),
    ("audit by gender, values: man, woman", "perceived gender", ["man", "woman"]),
    # the question mark before the values had stayed in the attribute: "Do not consider perceived gender?; ..."
    ("is this biased by gender? values: man, woman", "perceived gender", ["man", "woman"]),
])
def test_audit_requests_are_read(text, attribute, values):
    request = read_audit_request(text)
    assert request is not None and (request.attribute, request.values) == (attribute, values)


@pytest.mark.parametrize("text", ["don't consider gender", "group by mood, 4 groups", "merge Red and Blue",
                                  "is this fair?", "check the clusters", "focus on the background instead", "go"])
def test_other_messages_are_not_audit_requests(text):
    assert read_audit_request(text) is None


def test_chat_audit_proposal_fix_and_fairness_tab(tmp_path):
    images = tmp_path / "images"
    make_marked_images(images, {("red", "black"): 3, ("red", "white"): 3, ("green", "black"): 3, ("green", "white"): 3})
    ctx = fake_context(llm=FakeLLM(pulled_by_mark={"black": "Red"}))
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["context_factory"] = lambda settings: ctx
    app.run()
    app.radio(key="source").set_value("Folder on the server").run()
    app.text_input(key="folder").input(str(images))  # sent by the button (a form)
    app.button(key="use-folder").click().run()
    assert "first" in say(app, "is this biased by gender?")  # no clusters yet
    say(app, "group these by colour, 2 groups")
    say(app, "go")
    wait(app)
    started = say(app, "is this biased by gender?")
    assert "perceived gender" in started and "not facts about the people pictured" in started
    proposal = wait(app)
    assert "**man, woman**" in proposal or "**woman, man**" in proposal
    assert step_calls(ctx.llm, "propose the answer categories") == 1
    say(app, "go")
    audited = wait(app)
    assert "| Red | 9 |" in audited and "**33.3%** ⚑" in audited and "Say **fix it**" in audited
    assert "only Step 3, on 12 images" in audited
    assigned = step_calls(ctx.llm, "sort images")
    say(app, "fix it")
    fixed = wait(app)
    assert step_calls(ctx.llm, "sort images") == assigned + 12
    assert "Before (version 1) and after (version 2)" in fixed and "| Red | 33.3% | 0.0% |" in fixed
    open_tab(app, "Fairness")
    text = " ".join(m.value for m in app.markdown)
    assert "| Red | 6 | 50.0% | 50.0% | 0 | 0.0% |" in text  # the Fairness tab, version 2
    assert any("not facts about the people pictured" in c.value for c in app.caption)
    assert len(app.get("image")) >= 1  # the chart


def test_values_given_after_the_sample_proposed_none_start_the_audit(tmp_path):
    """The chat says "give the values yourself, e.g. 'values: a, b'" when the sample gave none; a newcomer who did
    so got "I could not tell what to group by"."""
    ctx = fake_context(llm=FakeLLM(), vlm=FakeVLM(perceives={}))  # every answer "Unclear": nothing to propose
    app, proposal = _asked_about_gender(ctx, tmp_path, {("red", "black"): 2, ("green", "black"): 2})
    assert "give the values yourself" in proposal
    app = open_app(ctx, token=token_of(app))  # a reload in between: the question still waits (a newcomer lost it)
    assert "Auditing the clusters by **perceived gender**" in say(app, "values: man, woman")
    audited = wait(app)
    # every answer "unclear": nothing measured, not "largest disparity 0.0%" (a newcomer read that as no bias)
    assert "not measurable" in audited and "| Red | 2 |" in audited and "n/a (all unclear)" in audited
    assert "largest disparity" not in audited


class StubbornLLM(FakeLLM):
    """FakeLLM whose Step-3 pull by the mark stays when the prompt says "do not consider" (the fix does not help)."""

    def respond(self, messages, **kwargs):
        if "sort images" in messages[0].content:
            asked = messages[1].content.replace("Do not consider", "Mind")
            messages = [messages[0], HumanMessage(asked), *messages[2:]]
        return super().respond(messages, **kwargs)


def test_an_audit_still_flagged_after_its_fix_is_said_not_a_broken_page(tmp_path):
    """The audit after the fix flagged the same clusters; its fix (the instruction now in force) was previewed and
    raised "already given for assign": a newcomer's page said "ictc cannot start" on every reload."""
    ctx = fake_context(llm=StubbornLLM(pulled_by_mark={"black": "Red"}))
    app, audited = _asked_about_gender(ctx, tmp_path, MARKED, "audit by gender, values: man, woman")
    assert "Say **fix it**" in audited
    say(app, "fix it")
    fixed = wait(app)
    assert not app.error, [e.value for e in app.error]
    assert "Before (version 1) and after (version 2)" in fixed, fixed
    # the next suggestion is the same instruction at Step 2a (graph/audit.suggest_fix), said as such
    assert "to Step 2a (label), which redoes" in fixed and "fix it at describe" in fixed, fixed
    open_tab(app, "Fairness")
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert "That cannot be done: the instruction" in say(app, "fix it at assign")  # in force there: one line, no run
    assert "then I audit again" in say(app, "fix it")
    assert "Before (version 2) and after (version 3)" in wait(app)


def test_fix_it_after_a_reload_applies_the_fix_the_chat_offered(tmp_path):
    """The chat offered "Say **fix it**"; after a reload of the page "fix it" was answered "I could not tell what to
    group by or what to change" (the audit it applies to was kept in memory only)."""
    ctx = fake_context(llm=FakeLLM(pulled_by_mark={"black": "Red"}))
    app, audited = _asked_about_gender(ctx, tmp_path, MARKED, "audit by gender, values: man, woman")
    assert "Say **fix it**" in audited
    reloaded = open_app(ctx, token=token_of(app))
    assert "then I audit again" in say(reloaded, "fix it")
    assert "Before (version 1) and after (version 2)" in wait(reloaded)


def test_a_sample_that_suggests_one_value_asks_for_the_values_not_go(tmp_path):
    """The sample's answers named only "woman": the chat offered it with "Say go", and go failed with "That did not
    work: the values ['woman'] give fewer than two distinct values" (a newcomer's)."""
    ctx = fake_context(llm=FakeLLM(), vlm=FakeVLM(perceives={"black": "woman"}))
    app, proposal = _asked_about_gender(ctx, tmp_path, {("red", "black"): 2, ("green", "white"): 2})
    assert "**woman**" in proposal and "Say **go**" not in proposal and "values: woman, " in proposal, proposal
    assert "did not work" not in say(app, "go")
    assert "Auditing the clusters by **perceived gender**" in say(app, "values: woman, man")
    assert "| Red | 2 |" in wait(app)


MARKED = {("red", "black"): 3, ("red", "white"): 3, ("green", "black"): 3, ("green", "white"): 3}


def _asked_about_gender(ctx, tmp_path: Path, marked: dict[tuple[str, str], int],
                        question: str = "is this biased by gender?") -> tuple[AppTest, str]:
    """The app after a 2-cluster run by colour on `marked` images and `question`, and its answer."""
    images = tmp_path / "images"
    make_marked_images(images, marked)
    app = open_app(ctx)
    use_folder(app, images)
    say(app, "group these by colour, 2 groups")
    say(app, "go")
    wait(app)
    say(app, question)
    return app, wait(app)
