"""Settings precedence and documentation; prompts carry the criterion, presets and instructions."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from ictc.core.settings import Settings, env_example_text, env_name, load_settings
from ictc.prompts import STEPS, make_criterion, presets, render

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_documents_every_setting_with_its_default():
    text = (ROOT / ".env.example").read_text()
    assert text == env_example_text(), "regenerate: python -c 'from ictc.core.settings import env_example_text; ...'"
    for f in fields(Settings):
        default = "" if f.metadata.get("secret") or f.default is MISSING else f.default  # lists default to empty
        assert f"{env_name(f)}={default}" in text, env_name(f)


def test_precedence_defaults_env_file_environment_flags(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("ICTC_CONCURRENCY=3\nICTC_SEED=5\nICTC_VLM=from-file\n")
    monkeypatch.setenv("ICTC_SEED", "7")
    settings = load_settings({"vlm": "from-flag"}, env_file=env_file)
    assert (settings.concurrency, settings.seed, settings.vlm, settings.image_max_side) == (3, 7, "from-flag", 512)


def test_secret_is_never_in_public_settings(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    settings = load_settings(env_file=None)
    assert settings.api_key == "sk-secret" and "sk-secret" not in repr(settings)
    assert "api_key" not in settings.public_dict()


def test_bad_setting_values_are_named(monkeypatch):
    monkeypatch.setenv("ICTC_CONCURRENCY", "many")
    with pytest.raises(ValueError, match="ICTC_CONCURRENCY='many'"):
        load_settings(env_file=None)
    monkeypatch.delenv("ICTC_CONCURRENCY")
    with pytest.raises(ValueError, match=r"backend \(ICTC_BACKEND\) must be 'local' or 'openai', not 'magic'"):
        load_settings({"backend": "magic"}, env_file=None)
    # a lever set in .env is named as it was written there (a newcomer looked for "category_look")
    monkeypatch.setenv("ICTC_CATEGORY_LOOK", "maybe")
    with pytest.raises(ValueError, match=r"^category_look \(ICTC_CATEGORY_LOOK\) must be 'on' or 'off', not 'maybe'$"):
        load_settings(env_file=None)


@pytest.mark.parametrize(("given", "base"), [("http://h:8000/v1/chat/completions", "http://h:8000/v1"),
                                             ("http://h:8000/v1/completions/", "http://h:8000/v1"),
                                             ("https://h/api/v1/models", "https://h/api/v1")])
def test_a_base_url_with_an_endpoint_path_pasted_on_is_refused_naming_the_base(given, base):
    # requests had gone to /v1/chat/completions/chat/completions, and the 404 read as an unknown model
    with pytest.raises(ValueError, match=rf"^--base-url \(OPENAI_BASE_URL\) '{given}' ends with the endpoint "
                                         rf"path '/\w+(/completions)?': give the server's base URL, --base-url {base}$"):
        load_settings({"backend": "openai", "base_url": given}, env_file=None)
    with pytest.raises(ValueError, match=r"^--vlm-base-url \(ICTC_VLM_BASE_URL\)"):
        load_settings({"vlm_base_url": "http://h/v1/chat/completions"}, env_file=None)
    assert load_settings({"base_url": "http://h:8000/v1/"}, env_file=None).base_url == ["http://h:8000/v1/"]


def test_the_endpoint_and_key_spelt_like_the_other_settings_are_refused_naming_their_variable(tmp_path, monkeypatch):
    # a newcomer's ICTC_BASE_URL (every other setting is ICTC_...) had been ignored without a word: the run went to
    # api.openai.com and stopped on "OPENAI_API_KEY is not set"
    monkeypatch.setenv("ICTC_BASE_URL", "http://127.0.0.1:8000/v1")
    with pytest.raises(ValueError, match=r"^ICTC_BASE_URL \(in the environment\) is not read: this setting's "
                                         r"variable is OPENAI_BASE_URL \(or --base-url\)$"):
        load_settings({"backend": "openai"}, env_file=None)
    # given as it is read, by a flag or OPENAI_BASE_URL, the other spelling changes nothing: not refused
    assert load_settings({"base_url": "http://h/v1"}, env_file=None).base_url == ["http://h/v1"]
    monkeypatch.setenv("OPENAI_BASE_URL", "http://h/v1")
    assert load_settings(env_file=None).base_url == ["http://h/v1"]
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("ICTC_BASE_URL")
    env = tmp_path / ".env"
    env.write_text("ICTC_API_KEY=sk-secret\n")
    with pytest.raises(ValueError, match=r"^ICTC_API_KEY \(in .*\.env\) is not read: this setting's variable is "
                                         r"OPENAI_API_KEY$") as refused:
        load_settings(env_file=env)
    assert "sk-secret" not in str(refused.value)


def test_a_misspelt_resume_setting_suggests_only_a_near_name():
    from ictc.core.settings import setting_values

    assert setting_values(["ICTC_REASONING_ROOM=8192"]) == {"reasoning_room": 8192}
    with pytest.raises(ValueError, match=r"\(did you mean ICTC_REASONING_ROOM\?\)$"):
        setting_values(["ICTC_REASONING_ROM=1"])
    with pytest.raises(ValueError, match=r"\(did you mean reasoning_room\?\)$"):
        setting_values(["reasoning_rom=1"])
    # the shared ICTC_ prefix made every variable look near: a newcomer's ICTC_NO_SUCH got "ICTC_ENDPOINT_CHOICE?"
    with pytest.raises(ValueError, match=r"not 'ICTC_NO_SUCH=1'$"):
        setting_values(["ICTC_NO_SUCH=1"])


def test_criterion_is_in_every_step_prompt():
    criterion = make_criterion("the mood of the person")
    rendered = {
        "describe": render("describe", criterion),
        "label": render("label", criterion, description="d"),
        "name_clusters": render("name_clusters", criterion, label_counts="- happy: 2", groups="", k=3),
        "assign": render("assign", criterion, names="- Happy", description="d"),
    }
    assert set(rendered) == set(STEPS)
    for messages in rendered.values():
        assert "the mood of the person" in messages[-1][1]


def test_presets_cover_the_paper_criteria_and_add_hints():
    assert {"object", "action", "location", "mood", "instrument", "place", "occupation"} <= set(presets())
    criterion = make_criterion(None, "instrument")
    assert criterion.text == "musical instrument"
    assert presets()["instrument"]["describe"] in render("describe", criterion)[-1][1]
    assert make_criterion("mood").preset == "mood"  # a preset's name as the criterion picks the preset


def test_instructions_go_to_the_chosen_step_or_all():
    criterion = make_criterion("occupation").with_instruction("Do not consider gender.", "assign")
    assert "Do not consider gender." in render("assign", criterion, names="-", description="d")[-1][1]
    assert "Do not consider gender." not in render("describe", criterion)[-1][1]
    everywhere = make_criterion("occupation").with_instruction("Ignore the background.")
    assert all("Ignore the background." in render(step, everywhere, description="d", names="-", label_counts="",
                                                   groups="", k=2)[-1][1] for step in STEPS)
    with pytest.raises(ValueError, match="unknown step"):
        criterion.with_instruction("x", "step9")


def test_the_wordnet_settings_read_plainly_to_someone_who_never_heard_of_wordnet():
    """A newcomer's reading of .env.example: ICTC_LABEL_KINDS named "WordNet's nouns" without saying what WordNet is,
    its bound was "twice an even cluster's share", and ICTC_NAME_TIES_BY_KIND spoke of "senses" and "hypernyms"."""
    docs = {f.name: f.metadata["doc"] for f in fields(Settings)}
    assert "a dictionary of English nouns" in docs["label_kinds"] and "nothing is downloaded" in docs["label_kinds"]
    assert "2 x images / K" in docs["label_kinds"]
    assert "'activity'" in docs["label_example"] and "traces" in docs["label_example"]  # what a user sees of it
    for name in ("label_kinds", "name_ties_by_kind", "category_kinds", "label_example"):
        for jargon in ("hypernym", "sense", "even cluster's share", "no WordNet noun"):
            assert jargon not in docs[name], (name, jargon)
