"""A fourth break-it helper's kinds (/tmp/kinds4 k1_answers, k1_errors): how real servers shape a 200 answer
(content parts, JSON-ish names, tool calls as text, answers left in reasoning) and their error answers (a 503 while
loading, OpenRouter's 404 and 200 errors, Gemini's schema refusal, a spent daily quota, a context overflow at Step
2b), each reproduced by the loopback fake server answering as that server does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ictc.cli import main

from fake_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    """The levers stay off (conftest: every step asks its model), Step 3 by log-probabilities as the product's
    default (the helper's cases ran so), quick timeouts."""
    for name, value in {"ICTC_ENDPOINT_CHOICE": "logprobs", "ICTC_REQUEST_TIMEOUT": "5",
                        "ICTC_MAX_RETRIES": "1"}.items():
        monkeypatch.setenv(name, value)



class ShapedServer(FakeOpenAIServer):
    """The fake server with a real server's habits: `hook(body)` may answer instead ((status, body) or None), and
    `reshape(body, reply)` may rewrite a normal 200 reply in place."""

    def __init__(self, hook: Callable[[dict[str, Any]], Any] | None = None,
                 reshape: Callable[[dict[str, Any], dict[str, Any]], None] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.hook, self.reshape = hook, reshape

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.hook is not None and (said := self.hook(body)) is not None:
            return said  # type: ignore[no-any-return]
        status, reply = super().answer(body)
        if self.reshape is not None and status == 200:
            self.reshape(body, reply)
        return status, reply


def is_label(body: dict[str, Any]) -> bool:
    """Step 2a's call: the LLM with a newline stop and no output format."""
    return body["model"] == "text-model" and bool(body.get("stop")) and not body.get("response_format")


def is_names(body: dict[str, Any]) -> bool:
    """Step 2b's names call: the LLM asked for its cluster_names schema (as JSON: the mode may have changed)."""
    return body["model"] == "text-model" and (
        "cluster_names" in json.dumps(body.get("response_format")) or "You organise labels into categories" in json.dumps(body))


def has_image(body: dict[str, Any]) -> bool:
    return "image_url" in json.dumps(body["messages"])


def message(reply: dict[str, Any]) -> dict[str, Any]:
    return reply["choices"][0]["message"]  # type: ignore[no-any-return]


def run(server: FakeOpenAIServer, images: Path, out: Path) -> int:
    return main(["run", str(images), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "1"])


def results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())  # type: ignore[no-any-return]


def clusters_by_colour(out: Path) -> dict[str, set[str]]:
    """True colour (from the file name) -> the clusters its images went to."""
    found: dict[str, set[str]] = {}
    for image in results(out)["images"]:
        found.setdefault(Path(image["image"]).name.split("_")[0], set()).add(str(image.get("cluster")))
    return found


def assert_clustered_by_colour(out: Path) -> None:
    """Every image clustered, each colour in one cluster named after it: the answers were read right."""
    assert results(out)["summary"]["failed"] == 0
    assert {colour: {c.lower() for c in clusters} for colour, clusters in clusters_by_colour(out).items()} == {
        "red": {"red"}, "green": {"green"}, "blue": {"blue"}}


# 1. content as a list of parts
def mistral_parts(body, reply):  # Magistral on Mistral's API: a thinking chunk, then the text
    if is_label(body) or is_names(body):
        text = message(reply)["content"]
        message(reply)["content"] = [{"type": "thinking", "thinking": [{"type": "text", "text": "The user wants."}]},
                                     {"type": "text", "text": text}]


def vlm_parts(body, reply):
    if has_image(body):
        message(reply)["content"] = [{"type": "text", "text": message(reply)["content"]}]


@pytest.mark.parametrize("reshape", [mistral_parts, vlm_parts], ids=["mistral_content_parts", "vlm_content_parts"])
def test_content_as_a_list_of_parts_is_read_and_its_thinking_is_reasoning(folder, tmp_path, reshape):
    """Both had crashed the run (AttributeError: 'list' object has no attribute 'strip', exit 2)."""
    with ShapedServer(reshape=reshape) as server:
        assert run(server, folder, tmp_path / "run") == 0
    assert_clustered_by_colour(tmp_path / "run")


def test_content_parts_are_joined_and_thinking_parts_go_to_reasoning():
    from ictc.models.answers import normalize_answer
    from ictc.models.quirks import refusal_of

    answer = {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Hmm."}]}, {"type": "text", "text": "re"},
        {"type": "text", "text": "d"}]}}]}
    assert refusal_of(answer) == ""  # read before the answer is normalized: no traceback either
    normalize_answer(answer)
    assert message(answer)["content"] == "red" and message(answer)["reasoning_content"] == "Hmm."


# 2. Step 2b's names, JSON-ish but not the schema
NAMES = ["Green", "Red", "Blue"]


@pytest.mark.parametrize("answer", [
    '{\n  "names": [\n    "Green",\n    "Red",\n    "Blue",\n  ],\n}',  # names_trailing_comma
    '{"cluster_names": ["Green", "Red", "Blue"]}',  # names_wrong_key
    json.dumps({"names": [{"name": n, "description": f"images that are {n.lower()}"} for n in NAMES]}),  # objects
    "{'names': ['Green', 'Red', 'Blue']}",  # python_dict_names
    '["Green", "Red", "Blue",]',  # a bare list
    '<tool_call>\n{"name": "cluster_names", "arguments": {"names": ["Green", "Red", "Blue"]}}\n</tool_call>',
    '```json\n{"names": ["Green", "Red", "Blue"]}\n```\nThese three names cover every label.',
    '"Green", "Red", "Blue"'])
def test_names_that_are_json_ish_but_not_the_schema_are_read(answer):
    from ictc.nodes.read_names import parse_names

    assert parse_names(answer) == NAMES


@pytest.mark.parametrize("answer", ['{\n  "names": [\n    "Green",\n    "Red",\n    "Blue"\n  ', "{'names': "
                                    "{'a': 'Green'}}", '{"cluster_names": ["x"], "other": ["y"]}'])
def test_a_name_that_is_json_text_is_never_a_name(answer):
    """'{', 'names": [' and a whole dict had become cluster names; a cut answer gives what it holds."""
    from ictc.nodes.read_names import parse_names

    names = parse_names(answer)
    assert not any(c in n for n in names for c in "{}[]\":"), names


def names_trailing_comma(body, reply):
    if is_names(body):
        names = json.loads(message(reply)["content"])["names"]
        message(reply)["content"] = '{\n  "names": [\n' + "".join(f'    "{n}",\n' for n in names) + "  ],\n}"


def names_objects(body, reply):
    if is_names(body):
        message(reply)["content"] = json.dumps({"names": [{"name": n, "description": n.lower()}
                                                          for n in json.loads(message(reply)["content"])["names"]]})


@pytest.mark.parametrize("reshape", [names_trailing_comma, names_objects])
def test_a_run_whose_names_ignore_the_schema_clusters_by_colour(folder, tmp_path, reshape):
    """Every image had gone to a cluster named '{' or after a whole dict."""
    with ShapedServer(reshape=reshape) as server:
        assert run(server, folder, tmp_path / "run") == 0
    assert sorted(results(tmp_path / "run")["cluster_names"]) == sorted(NAMES)
    assert_clustered_by_colour(tmp_path / "run")


# 3. a label inside a tool call, a label with its explanation
@pytest.mark.parametrize(("reply", "label"), [
    ('<tool_call>\n{"name": "label", "arguments": {"label": "red"}}\n</tool_call>', "red"),
    ('<tool_call>{"name": "label", "arguments": "{\\"label\\": \\"red\\"}"}</tool_call>', "red"),
    ("<tool_call>", ""), ('{"label": "red"}', "red"), ('<function=label>{"label": "red"}</function>', "red"),
    ('[TOOL_CALLS][{"name": "label", "arguments": {"label": "red"}}]', "red"),
    ("green - the image is a plain square of this colour", "green"), ("green \u2013 a plain square", "green"),
    ("blue-green", "blue-green"),
    ("“Blue”", "Blue"), ("«red»", "red")])  # curly and angle quotes (a re-run's labels_punct)
def test_a_label_is_read_from_a_tool_call_and_cut_at_its_explanation(reply, label):
    from ictc.nodes.label import clean_label

    assert clean_label(reply) == label


def qwen_tool_call(body, reply):  # Qwen without a tool parser: the call as text
    if is_label(body):
        label = message(reply)["content"].strip()
        message(reply)["content"] = '<tool_call>\n{"name": "label", "arguments": {"label": "' + label + '"}}\n</tool_call>'


def label_then_explain(body, reply):
    if is_label(body):
        message(reply)["content"] = message(reply)["content"].strip() + " - the image is a plain square of this colour"


@pytest.mark.parametrize("reshape", [qwen_tool_call, label_then_explain])
def test_labels_in_tool_calls_or_explained_cluster_by_colour(folder, tmp_path, reshape):
    """All 8 images had gone to one cluster, 'Tool call' or 'green - the image is'."""
    with ShapedServer(reshape=reshape) as server:
        assert run(server, folder, tmp_path / "run") == 0
    assert {i["raw_label"] for i in results(tmp_path / "run")["images"]} == {"red", "green", "blue"}
    assert_clustered_by_colour(tmp_path / "run")


# 4. a 503 while the model loads, or while Ollama's queue is full
LOADING = {"llama.cpp": {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}},
           "tgi": {"error": "Model Qwen/Qwen2-VL-7B-Instruct is currently loading", "estimated_time": 0.5},
           "ollama": {"error": {"message": "server busy, please try again.  maximum pending requests exceeded",
                                "type": "api_error", "param": None, "code": None}}}


# Anthropic's OpenAI-compatible API: 529 while overloaded (a re-run's new case: an image had failed)
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def for_seconds(seconds: float, said: dict[str, Any], status: int = 503) -> Callable[[dict[str, Any]], Any]:
    start: list[float] = []

    def hook(body):
        start.append(time.monotonic())
        return (status, said) if start[-1] - start[0] < seconds else None
    return hook


@pytest.mark.parametrize("server_kind", [*LOADING, "anthropic"])
def test_a_503_while_loading_or_busy_is_waited_out_not_failed(folder, tmp_path, monkeypatch, server_kind):
    """Every request of the first seconds got 503: the first 3 images failed and the run stopped (llama.cpp,
    TGI), or images failed with the reason said twice (Ollama); Anthropic's 529 "Overloaded" the same."""
    monkeypatch.setenv("ICTC_MAX_RETRIES", "0")  # not the client's retries: the busy patience
    hook = for_seconds(2.0, OVERLOADED, 529) if server_kind == "anthropic" else for_seconds(2.0, LOADING[server_kind])
    with ShapedServer(hook=hook) as server:
        assert run(server, folder, tmp_path / "run") == 0
        assert server.requests[0]["body"]["model"] == "vision-model"
    assert_clustered_by_colour(tmp_path / "run")


def test_a_503_past_patience_fails_with_the_server_s_reason_said_once(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("ICTC_MAX_RETRIES", "0")
    monkeypatch.setenv("ICTC_BUSY_PATIENCE", "0")
    busy = LOADING["ollama"]
    with ShapedServer(hook=lambda body: (503, busy) if has_image(body) and _colour(body) == "blue" else None) as server:
        assert run(server, folder, tmp_path / "run") == 4
    reasons = [i.get("reason") or "" for i in results(tmp_path / "run")["images"] if i.get("status") != "ok"]
    assert reasons and all(r.count("maximum pending requests exceeded") == 1 for r in reasons), reasons


def test_only_openrouter_s_parameters_404_drops_parameters():
    """Its "No endpoints found that support image input" is a text-only model (nodes/watch.py), not a parameter."""
    from ictc.models.quirks import ServerQuirks

    body = {"model": "m", "messages": [], "seed": 0, "logprobs": True, "top_logprobs": 5}
    quirks = ServerQuirks("https://openrouter.ai/api/v1", 2048)
    assert quirks.refuse(body, 404, b'{"error": {"message": "No endpoints found that support image input"}}') is None
    assert quirks.refuse(body, 404, json.dumps(NO_ENDPOINTS[1]).encode()) == "logprobs"
    assert "logprobs" not in quirks.prepare(body) and "top_logprobs" not in quirks.prepare(body)
    assert quirks.prepare(body)["seed"] == 0


def test_only_a_503_that_says_loading_or_busy_is_waited_out():
    from ictc.models.quirks import estimated_wait, unavailable_kind

    assert unavailable_kind(503, b'{"error": {"message": "Loading model"}}') == "loading"
    assert unavailable_kind(503, json.dumps(LOADING["ollama"]).encode()) == "busy"
    assert unavailable_kind(503, b"<html>503 Service Unavailable: no healthy upstream</html>") == ""
    assert unavailable_kind(500, b'{"error": {"message": "Loading model"}}') == ""
    assert estimated_wait(json.dumps(LOADING["tgi"]).encode()) == 0.5


# 5. OpenRouter's 404 for a parameter no provider takes; Gemini's refusal of the schema's additionalProperties
NO_ENDPOINTS = (404, {"error": {"message": "No endpoints found that can handle the requested parameters. To learn "
                                "more about provider routing, visit: https://openrouter.ai/docs/provider-routing",
                                "code": 404}})
GEMINI = {"error": {"code": 400, "message": "Invalid JSON payload received. Unknown name \"additionalProperties\" "
                    "at 'generation_config.response_schema': Cannot find field.", "status": "INVALID_ARGUMENT"}}


@pytest.mark.parametrize(("hook", "dropped"), [
    (lambda body: NO_ENDPOINTS if "logprobs" in body else None, "logprobs"),
    (lambda body: (400, [GEMINI]) if "additionalProperties" in json.dumps(body.get("response_format")) else None,
     "additionalProperties"),
    (lambda body: (400, GEMINI) if "additionalProperties" in json.dumps(body.get("response_format")) else None,
     "additionalProperties")], ids=["openrouter_no_params", "gemini_list_body", "gemini_dict_body"])
def test_a_refused_parameter_or_schema_is_dropped_not_taken_for_a_missing_model(folder, tmp_path, hook, dropped):
    """OpenRouter's 404 had stopped the run as 'the server does not serve the LLM'; Gemini's 400 as 'the model
    endpoint failed'."""
    with ShapedServer(hook=hook) as server:
        assert run(server, folder, tmp_path / "run") == 0
        refused = [r for r in server.requests if dropped in json.dumps(r["body"])]
    assert len(refused) == 1  # asked once, then never again
    assert_clustered_by_colour(tmp_path / "run")


# 6. a spent daily quota; a 200 that is an error; an empty choices list
FREE_DAILY = (429, {"error": {"message": "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 "
                              "free model requests per day", "code": 429}})


def test_a_spent_daily_quota_stops_at_once_with_its_way_out(folder, tmp_path, capsys, monkeypatch):
    """The run had waited out the 429 on every image (39 s) and stopped at Step 2a as 'failed the same way'."""
    monkeypatch.setenv("ICTC_BUSY_PATIENCE", "8")
    with ShapedServer(hook=lambda body: FREE_DAILY if has_image(body) and "blue" in _colour(body) else None) as server:
        assert run(server, folder, tmp_path / "run") == 3
        blue_calls = sum(has_image(r["body"]) and _colour(r["body"]) == "blue" for r in server.requests)
    err = capsys.readouterr().err
    assert "out of credit or quota" in err and "free-models-per-day" in err and "wait for the quota to renew" in err
    assert blue_calls == 1  # not waited out, not retried


def _colour(body: dict[str, Any]) -> str:
    from ictc.core.images import data_uri_to_image

    from fakes import colour_of

    url = next(x["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
               for x in m["content"] if x.get("type") == "image_url")
    return colour_of(data_uri_to_image(url))


PROVIDER_ERROR = (200, {"error": {"message": "Provider returned error", "code": 502,
                                  "metadata": {"raw": "upstream connect error", "provider_name": "Chutes"}}})
FILTERED = (200, {"id": "x", "object": "chat.completion", "created": 0, "model": "vision-model", "choices": [],
                  "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
                      "sexual": {"filtered": True, "severity": "medium"}}}]})


@pytest.mark.parametrize(("said", "reason", "tries"), [
    (PROVIDER_ERROR, "Error code: 502 - Provider returned error: upstream connect error", 2),  # retried once
    (FILTERED, "content filter refused this request's prompt: sexual (medium)", 1)],
    ids=["openrouter_200_error", "choices_empty"])
def test_a_200_without_an_answer_fails_its_image_with_what_the_body_says(folder, tmp_path, said, reason, tries):
    """Both had failed as 'the VLM returned an empty description'."""
    with ShapedServer(hook=lambda body: said if has_image(body) and _colour(body) == "blue" else None) as server:
        assert run(server, folder, tmp_path / "run") == 4
        blue_calls = sum(has_image(r["body"]) and _colour(r["body"]) == "blue" for r in server.requests)
    failed = [i for i in results(tmp_path / "run")["images"] if i.get("status") != "ok"]
    assert [Path(i["image"]).name for i in failed] == ["blue_0.png", "blue_1.png"]
    assert all(reason in i["reason"] and i["reason"].count("Provider returned error") <= 1 for i in failed)
    assert blue_calls == 2 * tries


# 7. an empty answer at the token cap; an answer left in reasoning_content
def gemini_null_length(body, reply):  # thinking ate the small cap; nothing shown
    if body["model"] == "text-model" and (body.get("max_tokens") or 999) <= 20:
        message(reply)["content"] = None
        reply["choices"][0]["finish_reason"] = "length"


def all_in_reasoning(body, reply):  # vLLM's reasoning parser, a model that never closes its block
    if has_image(body):
        message(reply)["reasoning_content"], message(reply)["content"] = message(reply)["content"], None


@pytest.mark.parametrize("reshape", [gemini_null_length, all_in_reasoning])
def test_an_answer_hidden_by_reasoning_is_asked_again_with_room_or_read_from_reasoning(folder, tmp_path, reshape):
    """Every label (Gemini) or description (vLLM) had been empty and the run stopped at Step 2b."""
    with ShapedServer(reshape=reshape) as server:
        assert run(server, folder, tmp_path / "run") == 0
    assert_clustered_by_colour(tmp_path / "run")


def test_an_empty_answer_at_the_cap_with_its_room_too_names_the_setting(folder, tmp_path, capsys):
    def always_empty(body, reply):
        if is_label(body) or (body["model"] == "text-model" and not body.get("response_format")
                              and not body.get("logprobs")):
            message(reply)["content"], reply["choices"][0]["finish_reason"] = None, "length"

    with ShapedServer(reshape=always_empty) as server:
        assert run(server, folder, tmp_path / "run") == 3
    err = capsys.readouterr().err
    assert "ICTC_REASONING_ROOM" in err and "--set ICTC_REASONING_ROOM=N" in err


def test_a_reasoning_cut_by_the_cap_is_not_taken_for_the_answer():
    from ictc.models.answers import normalize_answer

    answer = {"choices": [{"finish_reason": "length", "message": {"content": "", "reasoning": "The user wants a"}}]}
    normalize_answer(answer)
    assert message(answer)["content"] == ""


# 8. Step 2b's names call over the LLM's context
def test_a_names_call_over_the_context_names_step_2b_and_the_ways_out(folder, tmp_path, capsys):
    """The run had stopped with 'the model endpoint failed' and vLLM's sentence, no step or setting named."""
    overflow = (400, {"object": "error", "message": "This model's maximum context length is 2048 tokens. However, "
                      "you requested 2321 tokens (273 in the messages, 2048 in the completion). Please reduce the "
                      "length of the messages or completion.", "type": "BadRequestError", "param": None, "code": 400})
    with ShapedServer(hook=lambda body: overflow if is_names(body) else None) as server:
        assert run(server, folder, tmp_path / "run") == 3
    err = capsys.readouterr().err
    assert "stopped at Step 2b (name clusters)" in err and "maximum context length is 2048" in err
    assert "ICTC_NAME_GROUPS=on" in err and f"ictc resume {tmp_path / 'run'} --set ICTC_LABEL_TOKEN_BUDGET=N" in err


def test_an_answer_given_as_a_tool_call_is_read_from_its_arguments():
    """A re-run's case: vLLM with --enable-auto-tool-choice sent Step 2b's names as a tool call, content null; the
    names were lost and Step 2b fell back to the raw labels."""
    from ictc.models.answers import normalize_answer

    names = '{"names": ["Green", "Red", "Blue"]}'
    answer = {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "cluster_names", "arguments": names}}]}}]}
    normalize_answer(answer)
    assert answer["choices"][0]["message"]["content"] == names
    spoken = {"choices": [{"message": {"content": "red", "tool_calls": [{"function": {"arguments": "{}"}}]}}]}
    normalize_answer(spoken)
    assert spoken["choices"][0]["message"]["content"] == "red"  # text content stands


# 9. a fifth break-it round (kinds5): logprobs shapes, raw tokenizer pieces, leaked template tokens, invisible
# characters, the completions shape, a server-side token cap
def _as_dict(body, reply):  # llama.cpp's older server, text-generation-webui: top_logprobs as {token: logprob}
    if (choice := reply["choices"][0]).get("logprobs"):
        first = choice["logprobs"]["content"][0]
        first["top_logprobs"] = {e["token"]: e["logprob"] for e in first["top_logprobs"]}


def _legacy(body, reply):  # llama-cpp-python: the completions shape in a chat answer
    if (choice := reply["choices"][0]).get("logprobs"):
        entries = choice["logprobs"]["content"][0]["top_logprobs"]
        choice["logprobs"] = {"tokens": [entries[0]["token"]], "token_logprobs": [entries[0]["logprob"]],
                              "top_logprobs": [{e["token"]: e["logprob"] for e in entries}], "text_offset": [0]}


def _raw_pieces(body, reply):  # vLLM#16838 ("ĠRed"), vLLM#2918 ("▁Red")
    if (choice := reply["choices"][0]).get("logprobs"):
        first = choice["logprobs"]["content"][0]
        for entry in [*first["top_logprobs"], first]:
            entry["token"] = ("Ġ" if len(body["messages"]) % 2 else "▁") + entry["token"]


@pytest.mark.parametrize("reshape", [_as_dict, _legacy, _raw_pieces], ids=["top_logprobs_dict", "legacy", "pieces"])
def test_logprobs_in_other_shapes_or_as_raw_pieces_give_the_calibrated_choice(folder, tmp_path, reshape):
    """A dict had crashed the run (AttributeError, exit 2); the legacy shape and raw pieces had silently lost the
    calibrated choice (Step 3 all by the schema)."""
    with ShapedServer(reshape=reshape) as server:
        assert run(server, folder, tmp_path / "run") == 0
    assert_clustered_by_colour(tmp_path / "run")
    assert results(tmp_path / "run")["routes"] == {"logprobs": 8}


@pytest.mark.parametrize("logprobs", [
    {"content": [{"token": "x", "logprob": -1.0, "top_logprobs": "x"}]}, {"content": ["x"]}, {"content": "x"},
    {"top_logprobs": [["Red", -0.1]]}, {"tokens": ["Red"], "token_logprobs": ["high"]}, ["Red"], "Red"])
def test_unreadable_logprobs_are_no_logprobs_not_a_crash(logprobs):
    from langchain_core.messages import AIMessage

    from ictc.models.calibrated import first_token_logprobs

    assert first_token_logprobs(AIMessage("", response_metadata={"logprobs": logprobs})) is None


def test_raw_pieces_are_read_as_text_and_a_letter_that_looks_like_one_stays_a_letter():
    from ictc.models.calibrated import name_logprobs, piece_text

    assert [piece_text(t) for t in ("ĠRed", "▁Red", "Ċred", "Red▁car", "Red")] == [" Red", " Red", "\nred", "Red car",
                                                                                   "Red"]
    scores, _ = name_logprobs([("Ġgan", -0.1)], ["ġgantija", "green"])  # Maltese: "Ġ" begins the name
    assert scores[0] is not None and scores[1] is None


def leaked_end_tokens(body, reply):  # a GGUF with a wrong chat template (llama.cpp, LM Studio), CRLF lines
    if has_image(body):
        message(reply)["content"] = message(reply)["content"].replace(". ", ".\r\n") + "<|eot_id|>"
    elif is_label(body):
        message(reply)["content"] = message(reply)["content"].strip() + "<|im_end|>"
    elif is_names(body):
        message(reply)["content"] += "<|end|>"


def invisible_characters(body, reply):  # a BOM and zero-width spaces around labels and names
    if is_label(body):
        message(reply)["content"] = "\ufeff" + message(reply)["content"].strip() + "\u200b\n"
    elif is_names(body):
        names = json.loads(message(reply)["content"])["names"]
        message(reply)["content"] = json.dumps({"names": [f"\ufeff{n}\u200b" for n in names]}, ensure_ascii=False)


def completions_shape(body, reply):  # koboldcpp's older shim: choices[0].text, no message
    reply["choices"][0]["text"] = reply["choices"][0].pop("message")["content"]
    reply["object"] = "text_completion"


@pytest.mark.parametrize("reshape", [leaked_end_tokens, invisible_characters, completions_shape])
def test_leaked_tokens_invisible_characters_and_the_completions_shape_are_read(folder, tmp_path, reshape):
    """Leaked tokens had named the clusters "Red im end" (exit 0); invisible characters had reached the cluster
    names, the report and `ictc export`'s folders; the completions shape had failed every image as 'the VLM
    returned an empty description'."""
    with ShapedServer(reshape=reshape) as server:
        assert run(server, folder, tmp_path / "run") == 0
    assert_clustered_by_colour(tmp_path / "run")
    images = results(tmp_path / "run")["images"]
    assert {i["cluster"] for i in images} == {"Red", "Green", "Blue"}
    assert {i["raw_label"] for i in images} == {"red", "green", "blue"}
    assert not any(i["description"].endswith(">") for i in images)


def test_end_tokens_and_invisible_characters_go_and_joiners_inside_a_word_stay():
    from ictc.models.stray_text import strip_end_tokens, without_invisible

    assert strip_end_tokens("red<|im_end|>\r\n<|endoftext|> ") == "red"
    assert strip_end_tokens("A red square.</s>") == "A red square."
    assert strip_end_tokens("<|eot_id|> is a token") == "<|eot_id|> is a token"
    assert without_invisible("\ufeffRed\u200b car\u2060\u200d ") == "Red car"
    assert without_invisible("می\u200cخواهم 👩\u200d💻") == "می\u200cخواهم 👩\u200d💻"


def cut_at_one_token(body, reply):  # llama.cpp `-n 1`: every answer one token, whatever max_tokens says
    choice = reply["choices"][0]
    choice["message"]["content"] = (choice["message"]["content"] or "").split(" ")[0][:4]
    choice["finish_reason"], reply["usage"]["completion_tokens"] = "length", 1


def test_answers_cut_by_the_server_s_own_cap_stop_the_run_with_the_way_out(folder, tmp_path, capsys):
    """The run had ended with exit 0: descriptions "A", every image in "other", nothing said."""
    with ShapedServer(reshape=cut_at_one_token) as server:
        assert run(server, folder, tmp_path / "run") == 3
        calls = len(server.requests)
    err = capsys.readouterr().err
    assert "stopped at Step 1 (describe)" in err and "cuts every answer short" in err
    # what happened, not the "HTTP 400" of ictc's own stand-in for the server's 200 (kinds5 k04)
    assert "HTTP 400" not in err and "Error code" not in err
    assert "the answer was cut at 1 token by the server, of the 160 ictc asked for" in err
    assert "--n-predict" in err and "num_predict" in err
    assert "Finished work is kept" in err and "llama.cpp -c" in err  # a full context ends answers so too
    assert calls < 8  # the failure watch stopped it before every image was tried


def test_step_2b_s_answer_cut_by_the_server_s_cap_is_said_as_steps_1_and_3_say_it(folder, tmp_path, capsys):
    """Step 2b's one call had ended as "the model endpoint failed (OpenAIInvalidRequestError: Error code: 400 - the
    server cut ... LM Studi": ictc's own stand-in status, the sentence cut mid-word, no step named."""
    with ShapedServer(reshape=lambda body, reply: cut_at_one_token(body, reply) if is_names(body) else None) as server:
        assert run(server, folder, tmp_path / "run") == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "stopped at Step 2b (name clusters)" in err and "cuts every answer short" in err
    assert "Error code" not in err and "HTTP 400" not in err and "endpoint failed" not in err
    assert "the answer was cut at 1 token by the server" in err and "--n-predict" in err
    assert f"continue with: ictc resume {tmp_path / 'run'}" in err


@pytest.mark.parametrize(("usage", "content", "cap", "cut"), [
    ({"completion_tokens": 1}, "A", 160, True), ({"completion_tokens": 12}, "a long label cut", 12, False),
    ({}, "A", 12, True), ({}, "a red ball on the grass", 12, False),  # no usage: its characters
    ({"completion_tokens": 1}, "Red", 1, False),  # Step 3's one-token calls
    ({"completion_tokens": 1}, "<think>The user", 160, False),  # reasoning: quirks.clean gives room
    ({"completion_tokens": 1}, "", 160, False)])  # empty: hidden reasoning (quirks.clean)
def test_only_an_answer_cut_far_below_the_cap_asked_is_a_server_cap(usage, content, cap, cut):
    from ictc.models.answers import cut_by_server

    answer = {"choices": [{"finish_reason": "length", "message": {"content": content}}], "usage": usage}
    assert bool(cut_by_server(answer, cap)) is cut
    answer["choices"][0]["finish_reason"] = "stop"
    assert cut_by_server(answer, cap) == ""
