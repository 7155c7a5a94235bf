"""Issue 17, "Server behaviour" cases 1-6: quirks that public reports show of real OpenAI-compatible
servers (Ollama, vLLM, llama.cpp, OpenAI's reasoning models), each reproduced by the loopback fake server."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from ictc.cli import main
from ictc.core.errors import SystematicFailureError
from ictc.core.images import data_uri_to_image
from ictc.core.samples import export_samples
from ictc.models.reasoning import strip_reasoning
from ictc.nodes.name_clusters import name_clusters

from endpoint_cli import results_of, run_on
from fake_server import FakeOpenAIServer
from fakes import FakeVLM, fake_context


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "2")



def _bodies(server: FakeOpenAIServer, marker: str) -> list[dict]:
    return [r["body"] for r in server.requests if marker in json.dumps(r["body"]["messages"])]


class OracleVLM(FakeVLM):
    """A perfect VLM for the CIFAR-10 samples: it knows each photo's class (the nearest of the known photos,
    16x16 thumbnails) and says it in the words the fake LLM reads ("filled with <class>")."""

    known: list = []

    def respond(self, messages, **kwargs) -> str:
        block = next(b for m in messages if not isinstance(m.content, str) for b in m.content
                     if isinstance(b, dict) and b.get("type") == "image_url")
        seen = np.asarray(data_uri_to_image(block["image_url"]["url"]).resize((16, 16)), dtype=float)
        name = min(self.known, key=lambda k: float(((k[0] - seen) ** 2).sum()))[1]
        return f"A photo filled with {name}."


@pytest.fixture
def cifar(tmp_path):
    folder, count = export_samples(tmp_path / "samples")["cifar10"]
    rows = [line.split(",") for line in (folder / "labels.csv").read_text().splitlines()[1:]]
    known = [(np.asarray(Image.open(path).convert("RGB").resize((16, 16)), dtype=float), label)
             for path, label in rows]
    assert count == 20
    return folder, known, len({label for _, label in known})


# Case 1: reasoning in answers
@pytest.mark.parametrize(("think", "cap_field"), [("always", "max_tokens"),  # DeepSeek-R1 on Ollama
                                                  ("switchable", "max_completion_tokens")])  # Qwen3 on vLLM
def test_reasoning_blocks_never_reach_an_output_and_a_perfect_model_scores_acc_1(cifar, tmp_path, think, cap_field):
    folder, known, k = cifar
    vlm = OracleVLM()
    vlm.known = known
    with FakeOpenAIServer(vlm=vlm, think=think, cap_field=cap_field) as server:
        code = run_on(server, folder, tmp_path / "run", k, "vision-model", "text-model",
                    "--labels", str(folder / "labels.csv"))
    assert code == 0
    results = results_of(tmp_path / "run")
    assert results["metrics"]["acc"] == 1.0 and results["summary"]["clustered"] == 20
    texts = [r[f] for r in results["images"] for f in ("description", "raw_label", "cluster")]
    assert not any("think" in t.lower() for t in texts + results["cluster_names"])
    assert len(results["cluster_names"]) == k
    labels = _bodies(server, "short labels")
    if think == "switchable":  # once the model showed reasoning, it is switched off where the server allows
        assert all(b.get("chat_template_kwargs") == {"enable_thinking": False} for b in labels[-5:])
    # the first label answer was cut inside the reasoning by the stop "\n": sent again with room, no stop
    assert "stop" in labels[0] and all("stop" not in b for b in labels[2:])


# Case 2: parameters a model or server refuses
@pytest.mark.parametrize(("param", "message"), [
    ("temperature", "Unsupported value: 'temperature' does not support 0 with this model. "
                    "Only the default (1) value is supported."),  # OpenAI o-series
    ("max_tokens", "Unsupported parameter: 'max_tokens' is not supported with this model. "
                   "Use 'max_completion_tokens' instead."),
    ("stop", "Unsupported parameter: 'stop' is not supported with this model."),
    ("chat_template_kwargs", "[{'type': 'extra_forbidden', 'loc': ('body', 'chat_template_kwargs'), "
                             "'msg': 'Extra inputs are not permitted'}]"),  # a strict vLLM-style validator
])
def test_a_refused_parameter_is_dropped_remembered_and_the_call_sent_again(folder, tmp_path, param, message):
    think = "always" if param == "chat_template_kwargs" else None  # that one is only sent to reasoning models
    with FakeOpenAIServer(models=("o4-mini",), refuse={param: message}, think=think,
                          cap_field="max_completion_tokens") as server:
        assert run_on(server, folder, tmp_path / "run", 3, "o4-mini", "o4-mini") == 0
    results = results_of(tmp_path / "run")
    assert results["summary"] == {"images": 8, "clustered": 8, "failed": 0, "unfinished": 0, "skipped": 0}  # labels.csv is the folder's labels, not skipped
    refused = [r for r in server.requests if param in r["body"]]
    assert len(refused) == 1  # one refusal per server and model; never sent again
    assert all(r["body"].get("seed") == 0 for r in server.requests)  # determinism kept where allowed
    if param != "temperature":
        assert all(r["body"].get("temperature") == 0 for r in server.requests)


# Case 3: token cap fields
@pytest.mark.parametrize("cap_field", ["max_tokens", "max_completion_tokens"])  # Ollama, older llama.cpp | vLLM
def test_every_server_kind_honours_the_caps(folder, tmp_path, cap_field, monkeypatch):
    monkeypatch.setenv("ICTC_DESCRIPTION_MAX_TOKENS", "40")
    with FakeOpenAIServer(cap_field=cap_field, ramble=400) as server:
        assert run_on(server, folder, tmp_path / "run") == 0
    descriptions = [r["description"] for r in results_of(tmp_path / "run")["images"]]
    assert max(len(d.split()) for d in descriptions) == 40  # cut at the cap (the model would say ~3,200 words)
    assert all(b[cap_field] for b in (r["body"] for r in server.requests))


# Case 4: one request's 400 is that request's problem
def test_a_context_length_400_fails_that_image_and_keeps_the_output_mode(folder, tmp_path):
    def too_long(body, n):
        text = json.dumps(body["messages"])
        return "context" if "sort images" in text and "filled with blue" in text else None

    with FakeOpenAIServer(fault=too_long) as server:
        assert run_on(server, folder, tmp_path / "run") == 4  # finished, with failures
    results = results_of(tmp_path / "run")
    failed = [r for r in results["images"] if r["status"] == "failed"]
    assert len(failed) == 2 and all("maximum context length" in r["reason"] for r in failed)
    assert all("blue" in r["image"] for r in failed)
    assert results["routes"] == {"schema": 6}
    assign = _bodies(server, "sort images")
    assert len(assign) == 8  # each image asked once: no mode probing on its behalf
    assert {b["response_format"]["type"] for b in assign} == {"json_schema"}


def test_only_an_answer_about_the_response_format_changes_the_mode(folder, tmp_path):
    with FakeOpenAIServer(reject_modes=("json_schema",)) as server:
        assert run_on(server, folder, tmp_path / "run") == 0
    assign = [(b.get("response_format") or {}).get("type") for b in _bodies(server, "sort images")]
    assert assign.count("json_schema") == 0 and assign.count("json_object") == 8  # 2b already switched it


# Case 5: a systematic failure stops early
def test_a_server_without_image_support_stops_after_a_few_images_with_cause_and_fix(folder, tmp_path, capsys):
    with FakeOpenAIServer(no_images=True) as server:
        code = run_on(server, folder, tmp_path / "run")
    err = capsys.readouterr().err.strip().splitlines()[-1]  # the lines before it are progress bars
    assert code == 3 and err.startswith("ictc: stopped at Step 1 (describe)")
    assert "takes no images" in err and "--mmproj" in err and f"ictc resume {tmp_path / 'run'}" in err
    vision = [r for r in server.requests if r["body"]["model"] == "vision-model"]
    assert len(vision) <= 3 * 3  # 3 images, each tried 1 + 2 retries; not 8 images (main: 24 calls)
    assert not _bodies(server, "organise labels")  # Step 2b never ran on no labels
    assert (tmp_path / "run" / "run.json").is_file()


def test_a_refused_key_at_step_3_stops_and_keeps_steps_1_and_2(folder, tmp_path, capsys):
    def bad_key(body, n):
        return "401" if "sort images" in json.dumps(body["messages"]) else None

    out = tmp_path / "run"
    with FakeOpenAIServer(fault=bad_key) as server:
        assert run_on(server, folder, out) == 3
    err = capsys.readouterr().err
    assert "refused the API key" in err and "OPENAI_API_KEY" in err
    assert len(_bodies(server, "sort images")) == 1  # a refused key is the account's: no second image is tried
    data = json.loads((out / "run.json").read_text())
    with FakeOpenAIServer() as healthy:  # the key fixed: resume pays only for Step 3
        data["settings"]["base_url"] = healthy.url
        (out / "run.json").write_text(json.dumps(data))
        assert main(["resume", str(out)]) == 0
    assert results_of(out)["summary"]["clustered"] == 8
    assert len(_bodies(healthy, "sort images")) == 8 and not _bodies(healthy, "short labels")
    assert not [r for r in healthy.requests if r["body"]["model"] == "vision-model"]


def test_step_2b_never_runs_on_zero_labels():
    ctx = fake_context()
    state = {"images": [{"path": "a.png", "sha256": "1"}], "labels": {}, "criterion": {"text": "colour"},
             "n_clusters": 2, "failures": {"a.png": {"step": "label", "reason": "APIError: boom"}}}
    with pytest.raises(SystematicFailureError, match="no image has a raw label"):
        name_clusters(state, SimpleNamespace(context=ctx))
    assert not ctx.llm.calls


# Case 6: model names
def test_ollama_names_without_their_tag_are_accepted(folder, tmp_path):
    with FakeOpenAIServer(models=("llava:latest", "qwen2.5:latest"), strict_models=True) as server:
        assert run_on(server, folder, tmp_path / "run", 3, "llava", "qwen2.5") == 0
    assert not [r for r in server.requests if r["body"].get("max_tokens") == 1]  # listed: no probe needed


def test_a_server_that_lists_one_alias_and_answers_any_name_is_accepted_after_a_probe(folder, tmp_path):
    with FakeOpenAIServer(models=("real-llm",)) as server:  # llama.cpp
        assert run_on(server, folder, tmp_path / "run", 3, "my-vlm", "my-llm") == 0
    probes = [r["body"]["model"] for r in server.requests if r["body"].get("max_tokens") == 1]
    assert probes == ["my-vlm", "my-llm"]


def test_a_refused_name_comes_with_the_closest_listed_ids(folder, tmp_path, capsys):
    with FakeOpenAIServer(models=("llava:latest", "qwen2.5:latest", "mistral:7b"), strict_models=True) as server:
        code = run_on(server, folder, tmp_path / "run", 3, "llava", "qwen2")
    err = capsys.readouterr().err
    assert code == 3 and "'qwen2'" in err and "closest it lists: qwen2.5:latest" in err


@pytest.mark.parametrize(("reply", "answer"), [
    ("<think>\nhmm, red or blue?\n</think>\n\nred", "red"),
    ("the template opened it\n</think>\nblue", "blue"),  # DeepSeek-R1: <think> is in the prompt
    ("<think>\nstill thinking when the cap came", ""),
    ("<THINKING>x</THINKING>green<think>more", "green"),
    ("a plain answer", "a plain answer"),
    # the other families' markers (a break-it helper's cases): Magistral, gpt-oss (harmony), Seed-OSS,
    # OpenThinker / Sky-T1, <|thinking|>, Kimi-VL-Thinking
    ("[THINK]the user wants a colour[/THINK]red", "red"),
    ("<|channel|>analysis<|message|>thinking<|end|><|start|>assistant<|channel|>final<|message|>red<|return|>", "red"),
    ("<seed:think>thinking</seed:think>red", "red"),
    ("<|begin_of_thought|>thinking<|end_of_thought|><|begin_of_solution|>red<|end_of_solution|>", "red"),
    ("<|thinking|>thinking<|/thinking|>red", "red"),
    ("\u25c1think\u25b7thinking\u25c1/think\u25b7red", "red"),
    ("[THINK]cut by the cap", ""),
    # the second helper's: answers wrapped as Granite 3.3, GLM-4.1V / Hunyuan, GLM-4.5V, Cohere, Apriel, Granite 3.2 do
    ("<think>Let me think.</think><response>red</response>", "red"),
    ("<think>\nLet me think.\n</think>\n<answer>\nred\n</answer>", "red"),
    ("<think>Let me think.</think><|begin_of_box|>red<|end_of_box|>", "red"),
    ("<|START_THINKING|>Let me think.<|END_THINKING|><|START_RESPONSE|>red<|END_RESPONSE|>", "red"),
    ("Here are my reasoning steps:\nLet me think.\n[BEGIN FINAL RESPONSE]\nred\n[END FINAL RESPONSE]\n<|end|>", "red"),
    ("Here is my thought process:\nLet me think.\n\nHere is my response:\nred", "red"),
])
def test_reasoning_is_stripped_in_every_form(reply, answer):
    assert strip_reasoning(reply) == answer


@pytest.mark.parametrize(("status", "error", "dropped", "limit"), [
    (400, {"error": {"message": "Unrecognized request argument supplied: max_completion_tokens"}},  # Azure
     "max_completion_tokens", None),
    (400, {"message": "stop is not supported for this model"}, "stop", None),
    (400, {"detail": "Unsupported parameter: seed"}, "seed", None),
    (400, {"object": "error", "message": "Requested sample logprobs of 20, which is greater than max allowed: 5"},  # vLLM
     "top_logprobs", 5),
    (400, {"error": {"message": "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 5, but got 20 "
                                "instead.", "param": "top_logprobs"}}, "top_logprobs", 5),  # OpenAI
    (422, {"detail": [{"type": "less_than_equal", "loc": ["body", "top_logprobs"],
                       "msg": "Input should be less than or equal to 5", "input": 20, "ctx": {"le": 5}}]}, "top_logprobs", 5),
    (400, {"error": {"message": "This model's maximum context length is 4096 tokens. Please reduce the length of the "
                                "messages."}}, None, None),
    # a second break-it helper's wordings: TGI's names and limits, "between", "range", "cannot exceed", "must",
    # OpenRouter's provider words in metadata.raw
    (422, {"error": "Input validation error: `top_n_tokens` must be > 0 and <= 5. Given: 20"}, "top_logprobs", 5),
    (400, {"error": {"message": "top_logprobs must be between 0 and 5", "param": "top_logprobs"}}, "top_logprobs", 5),
    (400, {"error": {"message": "Invalid value for top_logprobs: 20. Must be in range [0, 5]."}}, "top_logprobs", 5),
    (400, {"error": {"message": "'top_logprobs' cannot exceed 5"}}, "top_logprobs", 5),
    (422, {"error": "Input validation error: `temperature` must be strictly positive"}, "temperature", None),
    (400, {"error": {"message": "stop_sequences: each stop sequence must contain non-whitespace"}}, "stop", None),
    (422, {"detail": [{"type": "greater_than", "loc": ["body", "temperature"], "msg": "Input should be greater than 0",
                       "input": 0}]}, "temperature", None),  # pydantic v2 (a third break-it helper's)
    (400, {"error": {"message": "Provider returned error", "metadata": {
        "raw": "{\"error\":{\"message\":\"Unrecognized request argument supplied: seed\"}}"}}}, "seed", None),    # both cap fields refused at once (Volcengine Ark, a sixth break-it round's k09a): the one named goes
    (400, {"error": {"message": "The parameter max_tokens specified in the request are not valid: max_tokens and "
                                "max_completion_tokens cannot be set at the same time", "param": "max_tokens",
                     "type": "BadRequest"}}, "max_tokens", None),
    (400, {"error": {"message": "max_completion_tokens and max_tokens are mutually exclusive"}},
     "max_completion_tokens", None),
    (400, {"error": {"message": "Only one of max_tokens or max_completion_tokens may be given"}}, "max_tokens", None),
])
def test_a_refused_parameter_is_found_however_the_server_words_it_and_a_number_over_a_limit_is_lowered(
        status, error, dropped, limit):
    """A break-it helper's refusals: named without quotes (the Azure one stopped every run), and top_logprobs above a
    server's cap of 5 (every Step-3 image failed)."""
    from ictc.models.quirks import ServerQuirks

    quirks = ServerQuirks("http://127.0.0.1:8000/v1", 2048)
    body = {"model": "m", "messages": [], "logprobs": True, "top_logprobs": 20, "max_completion_tokens": 1,
            "max_tokens": 1, "seed": 0, "stop": ["\n"], "temperature": 0}
    assert quirks.refuse(body, status, json.dumps(error).encode()) == dropped
    sent = quirks.prepare(body)
    if limit:
        assert sent["top_logprobs"] == limit and sent["logprobs"] is True
    elif dropped:
        assert dropped not in sent and sent["top_logprobs"] == 20
    if dropped in ("max_tokens", "max_completion_tokens"):  # the cap itself stays, in the other field
        assert [sent.get(f) for f in ("max_tokens", "max_completion_tokens") if f != dropped] == [1]


class TextOnlyModel(FakeOpenAIServer):
    """A server where "text-model" takes no images (llama.cpp's words for a model without its projector)."""

    def answer(self, body):
        if body["model"] == "text-model" and "image_url" in json.dumps(body["messages"]):
            return 500, {"error": {"code": 500, "message": "image input is not supported by this model",
                                   "type": "server_error"}}
        return super().answer(body)


def test_a_run_stopped_for_a_wrong_model_goes_on_with_the_right_one_at_resume(cifar, tmp_path, capsys):
    """The stop said "give --vlm a vision model ...; continue with: ictc resume RUN", but resume took no --vlm
    (a break-it helper's case); and since a run into a folder that holds one is refused, no way on was left."""
    folder, _, _ = cifar
    run = tmp_path / "run"
    with TextOnlyModel() as server:
        assert run_on(server, folder, run, 3, "text-model", "text-model") == 3
        assert f"continue with: ictc resume {run} --vlm NAME" in capsys.readouterr().err
        assert main(["resume", str(run), "--vlm", "vision-model"]) == 0
    results = results_of(run)
    assert results["summary"]["clustered"] == 20 and results["models"]["vlm"] == "vision-model"
    assert json.loads((run / "run.json").read_text())["settings"]["vlm"] == "vision-model"  # for later refinements


@pytest.mark.parametrize(("listing", "asked", "said"), [
    ((), "text-modl", "it lists no models"),  # an empty listing: the probe asks (found at Step 2a before)
    (("Qwen/Qwen2.5-VL-7B-Instruct", "text-model"), "qwen/qwen2.5-vl-7b-instruct",  # vLLM: case counts
     "the closest it lists: Qwen/Qwen2.5-VL-7B-Instruct"),
    (("llava:13b", "text-model"), "llava", "the closest it lists: llava:13b")])  # Ollama: llava is llava:latest
def test_a_name_the_server_does_not_serve_is_refused_before_any_call(folder, tmp_path, capsys, listing, asked, said):
    with FakeOpenAIServer(models=listing or ("vision-model", "text-model"), strict_models=True) as server:
        server.listing = listing  # () lists nothing, yet answers vision-model and text-model
        code = run_on(server, folder, tmp_path / "run", 3, "vision-model" if asked == "text-modl" else asked,
                    asked if asked == "text-modl" else "text-model")
    err = capsys.readouterr().err
    assert code == 3 and said in err and not (tmp_path / "run" / "run.json").exists()
    assert "a name the server serves." in err and "check --base-url" not in err  # it answered: its address is right
    assert not [r for r in server.requests if r["body"].get("max_tokens") != 1]  # only probes were sent
    # Ollama says the model can be pulled: that way out comes first (a break-it helper had only "give --vlm ...")
    assert ("pull it on the server (`ollama pull llava`), or give --vlm" in err) == (asked == "llava")


def test_a_model_name_pasted_with_spaces_is_the_name(folder, tmp_path):
    with FakeOpenAIServer(strict_models=True) as server:
        assert run_on(server, folder, tmp_path / "run", 3, " vision-model ", "text-model ") == 0


def test_reasoning_longer_than_its_room_is_said_and_the_resume_gives_more(cifar, tmp_path, capsys, monkeypatch):
    """A model that reasons ~3,000 tokens: every description came back empty, and the stop at Step 2b named
    neither reasoning nor the setting (a break-it helper's case); a saved setting could not be changed at resume."""
    import fake_server

    folder, _, _ = cifar
    run = tmp_path / "run"
    monkeypatch.setattr(fake_server, "REASONING", "<think>\n" + "Let me look at the colour again. " * 430 + "\n</think>\n\n")
    with FakeOpenAIServer(think="always", cap_field="max_tokens") as server:
        assert run_on(server, folder, run, 3, "vision-model", "text-model", "--concurrency", "1") == 3
        err = capsys.readouterr().err
        assert "reasons longer than its token cap allows" in err and f"ictc resume {run} --set ICTC_REASONING_ROOM=N" in err
        assert main(["resume", str(run), "--set", "ICTC_REASONING_ROOM=8192"]) == 0
        assert "nothing left to do" not in capsys.readouterr().out
        assert main(["resume", str(run), "--set", "ICTC_NO_SUCH=1"]) == 1
        # a finished run: the value is kept for its next refinement, and said so (a newcomer heard nothing)
        assert main(["resume", str(run), "--set", "ICTC_REASONING_ROOM=9000"]) == 0
        assert f"{run} had finished: nothing was left to do; reasoning_room kept for its next refinement" in capsys.readouterr().out
    assert results_of(run)["summary"]["clustered"] == 20
    assert json.loads((run / "run.json").read_text())["settings"]["reasoning_room"] == 9000


@pytest.mark.parametrize(("choice", "said"), [
    ({"finish_reason": "content_filter", "message": {"role": "assistant", "content": None}}, "content filter refused"),
    ({"finish_reason": "stop", "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."}},
     "refused this request (content filter or policy): I can't help with that."),
    ({"finish_reason": "stop", "message": {"role": "assistant", "content": "red"}}, "")])
def test_a_refusal_inside_a_200_answer_is_said_as_that_image_s_failure(choice, said):
    """Azure's content filter and OpenAI's refusal field had failed the image as "returned an empty description"."""
    from ictc.models.quirks import refusal_of

    refused = refusal_of({"choices": [choice]})
    assert (said in refused) if said else refused == ""


@pytest.mark.parametrize("reply", ["Sure! Here is the label:\nred", "The image shows a plain square.\nAnswer: red",
                                   "Reasoning: the user wants one word\nFinal Answer: red", "**Answer:** red", "red"])
def test_a_label_after_a_preamble_is_the_label(reply):
    """A third break-it helper's: every label was the preamble ("Sure here is the label"), all in one cluster."""
    from ictc.nodes.label import clean_label

    assert clean_label(reply) == "red"


def test_a_refusal_in_words_fails_the_image_and_a_413_fails_only_its_request():
    """A VLM's 200 "I'm sorry, but I can't help with describing this image." had become the description; three
    "413 Request Entity Too Large" from a proxy had stopped the run as if every image would fail."""
    from ictc.models.quirks import PER_REQUEST
    from ictc.nodes.describe import REFUSED

    assert REFUSED.match("I'm sorry, but I can't help with describing this image.")
    assert not REFUSED.match("A plain square filled with red. Sorry-looking dog in the corner.")
    assert PER_REQUEST.search("<html><head><title>413 Request Entity Too Large</title></head></html>")
