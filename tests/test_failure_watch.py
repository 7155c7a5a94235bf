"""A server that goes away in the middle of a step stops the run within a round of calls, naming the
server, instead of after every image has been tried and retried (newcomer finding: 4½ minutes, 300 images)."""

from __future__ import annotations

import json
from unittest import mock

import httpx2  # the HTTP package the openai SDK (3.x) is built on
import openai
import pytest

from ictc.cli import main
from ictc.core.errors import SystematicFailureError
from ictc.nodes.watch import FIRST_FEW, LATER_STREAK, FailureWatch

from fake_server import FakeOpenAIServer
from fakes import make_images
from sdk_errors import sdk_error


def _refused() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions"))


def test_a_streak_of_identical_failures_after_successes_stops_the_step_naming_the_server():
    watch = FailureWatch()
    watch.record("Step 1 (describe)", "VLM", "vision-model", [], 5)
    for _ in range(LATER_STREAK - 1):
        watch.record("Step 1 (describe)", "VLM", "vision-model", [_refused()], 0)
    with pytest.raises(SystematicFailureError) as stopped:
        watch.record("Step 1 (describe)", "VLM", "vision-model", [_refused()], 0)
    message = str(stopped.value)
    assert message.startswith("stopped at Step 1 (describe)") and f"last {LATER_STREAK} calls" in message
    assert "http://127.0.0.1:8123" in message and "could not be reached" in message and "--base-url" in message


def test_a_success_between_failures_ends_the_streak():
    watch = FailureWatch()
    watch.record("Step 2a (label)", "LLM", "text-model", [], 1)
    for i in range(3 * LATER_STREAK):
        watch.record("Step 2a (label)", "LLM", "text-model", [_refused()], 1 if i % (LATER_STREAK - 1) == 0 else 0)
    assert watch.stopped is None


def test_the_first_few_failures_still_stop_a_step_with_nothing_done():
    watch = FailureWatch()
    with pytest.raises(SystematicFailureError, match=f"first {FIRST_FEW} model calls all failed"):
        for _ in range(FIRST_FEW):
            watch.record("Step 1 (describe)", "VLM", "vision-model", [_refused()], 0)


def test_a_server_failing_mid_step_stops_the_run_early_and_keeps_what_finished(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "1")
    paths, _ = make_images(tmp_path / "images", {"red": 10, "green": 10, "blue": 10})
    folder = tmp_path / "images"

    def dies_after_three(body, number):
        return "500" if number > 3 else None

    out = tmp_path / "run"
    with FakeOpenAIServer(fault=dies_after_three) as server:
        code = main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                     "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "1"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3 and err.startswith("ictc: stopped at Step 1 (describe)"), err
    assert f"last {LATER_STREAK} calls all failed" in err
    vision = [r for r in server.requests if r["body"]["model"] == "vision-model"]
    assert len(vision) <= 3 + 2 * (LATER_STREAK + 1)  # not 27 more images with a retry each (main: 57)
    assert json.loads((out / "run.json").read_text())  # the run folder stays for `ictc resume`


def test_the_cli_says_that_fewer_kinds_than_k_are_fewer_clusters_once(tmp_path, capsys):
    """A newcomer met "other 2 / other 3" with no word that Step 2b fell back; then padded "other" names were made
    up to reach K (Step 3 read "other" as the none-of-these group): fewer kinds than K are fewer clusters, said.
    And said once: "no usable 5 names" had been printed beside the fewer-kinds line. The LLM is still asked for K
    names (the method's Step 2b: it may part a label; a small model's one label for all had made one cluster)."""
    folder = tmp_path / "images"
    make_images(folder, {"red": 2, "green": 2, "blue": 2})
    with FakeOpenAIServer() as server:  # its LLM names the colours it sees, as many as asked
        code = main(["run", str(folder), "-c", "colour", "-k", "5", "--out", str(tmp_path / "run"), "--backend",
                     "openai", "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model"])
    out = capsys.readouterr().out
    names_calls = [r for r in server.requests if "organise labels" in json.dumps(r["body"])]
    assert names_calls and all("exactly 5 category names" in json.dumps(c["body"]) for c in names_calls)
    assert code == 0 and "no usable" not in out and "3 clusters by 'colour'" in out
    assert "! Step 2b: the images' labels hold only 3 distinct kinds, so 3 clusters, not K=5 (none invented)" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    assert sorted(results["cluster_names"]) == ["Blue", "Green", "Red"] and "empty" not in out.lower()
    assert results["n_clusters"] == 3 and results["asked_k"] == 5  # the clusters made; the K asked
    summary = json.loads((tmp_path / "run" / "results-summary.json").read_text("utf-8"))
    assert (summary["n_clusters"], summary["asked_k"]) == (3, 5)
    report = (tmp_path / "run" / "report.html").read_text("utf-8")
    assert "only 3 distinct kinds" in report
    assert main(["refine", str(tmp_path / "run"), "--merge", "1", "2"]) == 0  # 2 clusters now: that line is stale
    out = capsys.readouterr().out
    assert "distinct kinds" not in out and "no usable" not in out
    # at a --review pause too, before Step 3: a tenth newcomer met an unexplained "4. other" there
    with FakeOpenAIServer() as server, mock.patch("builtins.input", side_effect=["", ""]):
        assert main(["run", str(folder), "-c", "colour", "-k", "4", "--out", str(tmp_path / "review"), "--review",
                     "--backend", "openai", "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model"]) == 0
    out = capsys.readouterr().out
    pause = out.split("Cluster names (before Step 3)")[1].split("Enter:")[0]
    assert pause.startswith(" for 'colour', 3 clusters (K=4 asked):")  # the header had said "K=4" above 3 names
    assert "4. " not in pause and "no usable" not in pause
    assert "only 3 distinct kinds, so 3 clusters, not K=4" in pause


@pytest.mark.parametrize("message", [
    "height:1 or width:1 must be larger than factor:28",  # Qwen2-VL's smallest side
    "absolute aspect ratio must be smaller than 200, got 3000.0",
    "You uploaded an unsupported image. Please make sure your image is valid.",  # OpenAI
    "Your input image may contain content that is not allowed by our safety system.",
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
    "The decoder prompt (length 4412) is longer than the maximum model length of 4096.",  # vLLM, image tokens
    "Unable to process input image. Please retry",  # Gemini
    "Failed to load image or audio file",  # llama.cpp
    "The image data you provided does not represent a valid image.",  # OpenAI
    "At least one of the image dimensions exceed max allowed size: 8000 pixels",
    "image: unknown format",  # Ollama
    "Your input was flagged for \"violence\". No credits were charged.",  # OpenRouter's moderation
    "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4412"])  # TGI
def test_an_image_s_own_refusal_fails_that_image_and_never_stops_the_step(message):
    """Three such refusals at the start had stopped the run (and `resume` again), the good images never done."""
    request = httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions")
    error = openai.BadRequestError(message, response=httpx2.Response(400, request=request, json={"message": message}),
                                   body={"message": message})
    watch = FailureWatch()
    for _ in range(3 * FIRST_FEW):
        watch.record("Step 1 (describe)", "VLM", "vision-model", [error], 0)
    assert watch.stopped is None


def test_a_failure_reason_gives_the_server_s_sentence_not_the_client_s_dump_of_the_body():
    """An Azure content filter's 400 was recorded as "Error code: 400 - {'error': {'message': ..." (a Python dict,
    cut at 300 characters) in results.csv and the report."""
    from ictc.nodes.common import failure

    said = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."
    body = {"error": {"message": said, "type": None, "param": "prompt", "code": "content_filter", "status": 400}}
    request = httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions")
    error = openai.BadRequestError(f"Error code: 400 - {body}", response=httpx2.Response(400, request=request, json=body),
                                   body=body)
    assert failure("describe", error)["reason"] == f"BadRequestError: Error code: 400 - {said}"


def test_an_answer_ictc_found_unusable_is_said_as_such_not_as_the_server_s_http_400():
    """ictc's own stand-in 400 for a 200 answer cut at the server's cap (models/quirks.error_response) had been said
    "HTTP 400 the server cut ..." in the stop message and "Error code: 400" in each image's reason (kinds5 k04)."""
    from ictc.models.answers import cut_by_server, unusable_answer
    from ictc.nodes.common import failure

    answer = {"choices": [{"finish_reason": "length", "message": {"content": "A"}}], "usage": {"completion_tokens": 1}}
    cut = cut_by_server(answer, 160)
    request = httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions")
    response = unusable_answer(answer, request, 160)  # the stand-in, as the HTTP client gets it
    error = openai.BadRequestError(f"Error code: 400 - {response.json()}", response=response, body=response.json())
    watch = FailureWatch()
    with pytest.raises(SystematicFailureError) as stop:
        watch.record("Step 1 (describe)", "VLM", "vision-model", [error] * FIRST_FEW, 0)
    said = str(stop.value)
    assert "HTTP 400" not in said and "cuts every answer short, at a cap of its own" in said
    assert "the answer was cut at 1 token by the server, of the 160 ictc asked for" in said and "-n / --n-predict" in said
    assert failure("describe", error)["reason"] == f"UnusableAnswer: {cut}"
    # an error the server itself sent keeps its status
    body = {"error": {"message": "grammar rejected"}}
    sent = openai.BadRequestError("x", response=httpx2.Response(400, request=request, json=body), body=body)
    with pytest.raises(SystematicFailureError) as stop:
        FailureWatch().record("Step 1 (describe)", "VLM", "vision-model", [sent] * FIRST_FEW, 0)
    assert "(HTTP 400 grammar rejected)" in str(stop.value)
    assert failure("describe", sent)["reason"] == "BadRequestError: x - grammar rejected"


def test_the_counts_of_a_cut_answer_come_as_fields_of_the_stand_in_not_read_back_from_its_words():
    """The stop's "cut at N tokens, of the M asked" had been parsed out of ictc's own sentence (a regular
    expression on models/answers' words): reworded, the counts were lost. They travel as fields of the stand-in."""
    from ictc.models.answers import unusable_answer
    from ictc.models.quirks import error_response, found_fields

    request = httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions")
    answer = {"choices": [{"finish_reason": "length", "message": {"content": "A red"}}], "usage": {"completion_tokens": 2}}
    response = unusable_answer(answer, request, 300)
    error = openai.BadRequestError("x", response=response, body=response.json())
    assert found_fields(error) == {"cut_at": 2, "asked": 300}
    reworded = error_response(request, "the reply stopped early", "server_cap", {"cut_at": 2, "asked": 300})
    error = openai.BadRequestError("x", response=reworded, body=reworded.json())
    with pytest.raises(SystematicFailureError) as stop:
        FailureWatch().record("Step 1 (describe)", "VLM", "vision-model", [error] * FIRST_FEW, 0)
    assert "the answer was cut at 2 tokens by the server, of the 300 ictc asked for" in str(stop.value)
    assert "-n / --n-predict" in str(stop.value)


@pytest.mark.parametrize(("status", "body", "cause", "fix"), [
    (429, {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                     "code": "insufficient_quota"}}, "out of credit or quota", "add credit"),
    (402, {"error": {"message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits"}},
     "out of credit or quota", "add credit"),
    (429, [{"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing "
                                              "details.", "status": "RESOURCE_EXHAUSTED"}}],  # Gemini: a list
     "out of credit or quota", "add credit"),
    (403, {"error": {"message": "Project `proj_abc123` does not have access to model `vision-model`",
                     "code": "model_not_found"}}, "project has no access", "give --vlm a model the project may use"),
    (400, {"error": {"message": "No models loaded. Please load a model in the developer page or use the `lms load` "
                                "command."}}, "no model loaded", "lms load"),  # LM Studio
    (500, {"error": {"message": "this model is missing data required for image input"}},  # Ollama
     "takes no images", "give --vlm a vision model"),
    # a second break-it helper's: text-only models in other words, a data policy, a daily quota, too little memory
    (400, {"error": {"message": "Invalid content type. image_url is only supported by certain models."}},
     "takes no images", "give --vlm a vision model"),
    (422, {"error": {"message": "messages[1]: unknown variant `image_url`, expected `text`"}}, "takes no images", "--vlm"),
    (404, {"error": {"message": "No endpoints found that support image input"}}, "takes no images", "--vlm"),
    (404, {"error": {"message": "No endpoints found matching your data policy. Configure: "
                                "https://openrouter.ai/settings/privacy"}}, "data policy", "privacy settings"),
    (429, {"error": {"message": "Rate limit reached on tokens per day (TPD): Limit 500000. Please try again in 3h."}},
     "out of credit or quota", "wait for the quota to renew"),
    (500, {"error": {"message": "model requires more system memory (15.2 GiB) than is available (7.6 GiB)"}},
     "too little memory", "a smaller model"),
    (404, {"error": {"message": 'model "vision-model" not found, try pulling it first', "type": "api_error"}},  # Ollama
     "does not serve the VLM 'vision-model'", "pull it on the server (`ollama pull vision-model`), or give --vlm")])
def test_a_systematic_failure_names_its_own_cause_and_fix(status, body, cause, fix):
    """A break-it helper's stops: a quota or a 402 got "fix the server or the settings", a project without the
    model was told to change its key, Gemini's list body was shown as a Python repr."""
    from ictc.nodes.watch import diagnose

    request = httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions")
    error = openai.APIStatusError("x", response=httpx2.Response(status, request=request, json=body), body=body)
    said_cause, said_fix = diagnose(error, "VLM", "vision-model")
    assert cause in said_cause and fix in said_fix and "{'" not in said_cause


@pytest.mark.parametrize("body", [b'{"error": {"code": "insufficient_quota"}}',
                                  b'[{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}]',  # Gemini
                                  b'{"error": {"message": "Rate limit reached ... on tokens per day (TPD): Limit 500000"}}'])
def test_a_spent_quota_is_not_waited_out_as_a_busy_server(body):
    """Gemini's spent daily quota had been waited out for ICTC_BUSY_PATIENCE (300 s) like a busy server."""
    from ictc.models.quirks import is_quota_error

    assert is_quota_error(httpx2.Response(429, content=body))
    assert not is_quota_error(httpx2.Response(429, content=b'{"error": {"message": "Rate limit reached"}}'))


NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
             "\r\n<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n")


def test_a_proxy_s_html_page_is_said_as_its_title_not_its_markup():
    """A server behind nginx answered 502 with its page: the image's failure reason was the page's markup."""
    from ictc.nodes.common import failure
    from ictc.nodes.watch import diagnose

    request = httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions")
    response = httpx2.Response(502, request=request, text=NGINX_502, headers={"content-type": "text/html"})
    # the error the openai SDK raises for such an answer (models/direct_chat.py raises it the same way)
    error = sdk_error(response)
    assert failure("describe", error)["reason"] == "InternalServerError: Error code: 502 - 502 Bad Gateway"
    assert diagnose(error, "VLM", "vision-model")[0].endswith("the same way (HTTP 502 Bad Gateway)")
    # the page names no setting: the way out had said "fix the server or the settings named there"
    assert diagnose(error, "VLM", "vision-model")[1] == "fix the server (its log says why it answered so)"
    named = httpx2.Response(400, request=request, json={"error": {"message": "unknown parameter 'top_k'"}})
    error = sdk_error(named)
    assert diagnose(error, "VLM", "vision-model")[1] == "fix the server or the settings named there"


def test_a_long_server_sentence_is_cut_at_a_word():
    """The stop had ended "... LM Studi": the server's sentence cut mid-word."""
    from ictc.nodes.watch import clipped

    assert clipped("set the context length in LM Studio", 30) == "set the context length in..."
    assert clipped("short", 30) == "short" and clipped("x" * 40, 10) == "xxxxxxx..."


@pytest.mark.parametrize(("page", "said"), [
    (NGINX_502, "502 Bad Gateway"),
    ("<!DOCTYPE html><html><head><style>h1 {color: red}</style><script>var a = '<b>';</script></head>"
     "<body><h1>Service Temporarily Unavailable</h1><p>Try later.</p></body></html>", "Service Temporarily Unavailable"),
    ("<html><body><p>upstream connect error or disconnect/reset before headers</p></body></html>",
     "upstream connect error or disconnect/reset before headers"),  # no title, no heading: its first words
    ("<html><head><title>\n  example.com | 504:   Gateway time-out\n</title>", "example.com | 504: Gateway time-out"),
    ("<html></html>", "<html></html>"),  # a page that says nothing: its text, not an empty reason
    ("upstream request timeout", "upstream request timeout")])  # no markup: as it came
def test_an_error_body_that_is_a_web_page_is_read_as_one_line(page, said):
    from ictc.models.quirks import error_of

    assert error_of(page.encode()) == (said, None)


def test_an_endpoint_failure_outside_the_steps_says_the_server_s_words_cut_at_a_word(monkeypatch, capsys, tmp_path):
    """It had said "(OpenAIInvalidRequestError: Error code: 400 - the server cut ... LM Studi": ictc's own stand-in
    status (models/quirks.error_response) and the sentence cut at 200 characters, mid-word."""
    import sys

    from ictc.models.quirks import error_response

    request = httpx2.Request("POST", "http://127.0.0.1:8123/v1/chat/completions")
    words = "the server cut the answer " + "and so on " * 40 + "LM Studio"
    error = sdk_error(error_response(request, words, "server_cap"))

    def fails(args):
        raise error

    monkeypatch.setitem(sys.modules["ictc.cli.main"].HANDLERS, "resume", fails)
    assert main(["resume", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "Error code" not in err and "HTTP 400" not in err and "the model endpoint failed (the server cut" in err
    assert "on...); finished work is kept" in err


def test_a_key_refused_mid_step_stops_the_step_and_the_resume_runs_step_2b_once(tmp_path, capsys, monkeypatch):
    # "k32": a key that expired during Step 2a failed the step's other images one by one (fewer than a streak), Step
    # 2b then ran on the 2 labels made, and after the resume again on all 8: 20 calls where 15 would do
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-42")
    make_images(tmp_path / "images", {"red": 3, "green": 3, "blue": 2})
    expired = []

    def expires_after_two_labels(body, number):
        if body["model"] == "text-model" and "short labels" in json.dumps(body["messages"]):
            expired.append(number)
        return "401" if len(expired) > 2 else None

    flags = ["--backend", "openai", "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "1"]
    with FakeOpenAIServer(fault=expires_after_two_labels) as server:
        assert main(["run", str(tmp_path / "images"), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *flags]) == 3
        said = capsys.readouterr().err
        assert "stopped at Step 2a (label): the server refused the API key (HTTP 401" in said, said
        first = [json.dumps(r["body"]["messages"]) for r in server.requests if r["body"]["model"] == "text-model"]
        assert len(first) == 3 and all("short labels" in m for m in first)  # 2 labels, the refused call; no Step 2b
        server.fault, before = None, len(server.requests)  # a new key
        assert main(["resume", str(tmp_path / "run")]) == 0
        after = [json.dumps(r["body"]["messages"])[:60] for r in server.requests[before:]]
    assert after[:6] == [first[0][:60]] * 6, after  # the 6 labels left, then Step 2b (once: it had not run) and Step 3
    assert not any("short labels" in m for m in after[6:])
