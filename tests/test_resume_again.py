"""`ictc resume` of a finished run whose failed image fails again: nothing changed, so no version is added (each
resume had added one, v3, v4..., the same as the last); it says which image(s) failed again and why, and exits 4."""

from __future__ import annotations

import json

from test_resume_edits import CutsOneBlue  # a server failing blue_1, as there

from ictc.cli.main import main
from ictc.graph.run import resume_run, start_run
from ictc.prompts import make_criterion

from fakes import fake_context, make_images


def test_a_resume_whose_failed_image_fails_again_adds_no_version(tmp_path, capsys, monkeypatch):
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context(vlm=CutsOneBlue())
    first = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert first.failed == 1 and first.version == 1
    again = resume_run(tmp_path / "run", context=fake_context(vlm=CutsOneBlue()))
    assert again.version is None and again.results["history"] == ["first run"]
    said = again.results["notices"][0]
    assert said.startswith("nothing changed: 1 image(s) failed again: ") and "no new version" in said, said
    assert "the description was cut" in said, said  # the reason
    monkeypatch.setattr("ictc.graph.runtime.build_context", lambda settings: fake_context(vlm=CutsOneBlue()))
    capsys.readouterr()
    assert main(["resume", str(tmp_path / "run")]) == 4  # the failure code, as the run's
    assert "nothing changed: 1 image(s) failed again" in capsys.readouterr().out
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert [v["action"] for v in meta["versions"]] == ["first run"]
    healed = resume_run(tmp_path / "run", context=fake_context())  # the server answers now: a version
    assert healed.version == 2 and healed.failed == 0 and "notices" not in healed.results


def test_the_traces_of_a_resume_that_changed_nothing_claim_no_version(tmp_path):
    """Its traces carry the number of the next version (which counts them, as it counts their calls): the Traces tab
    had shown them under "v2", a version that does not exist."""
    from ictc.evaluation.traces import image_traces, trace_overview, version_titles

    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context(vlm=CutsOneBlue())
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    resume_run(tmp_path / "run", context=fake_context(vlm=CutsOneBlue()))  # nothing changed: no version 2
    summary = trace_overview(tmp_path / "run")[0]
    assert version_titles(tmp_path / "run", summary) == {1: "v1", 2: "v2 (not a version yet)"}
    blue = next(p for p in paths if p.endswith("blue_1.png"))
    assert image_traces(tmp_path / "run", blue)["describe"]["version"] == 2  # the retry's answer, headed as above
    resume_run(tmp_path / "run", context=fake_context())  # the server answers now: version 2, counting them
    assert version_titles(tmp_path / "run", trace_overview(tmp_path / "run")[0]) == {1: "v1", 2: "v2"}


def test_a_resume_whose_three_failed_images_fail_again_the_same_way_says_so_and_exits_4(tmp_path, capsys, monkeypatch):
    """kinds6 k21: Ollama's 500 "unable to make llava embedding from image" for the 3 red images: the run finished
    with them failed (exit 4); the resume, retrying only them, stopped "the first 3 model calls all failed the same
    way ... fix the server" (exit 3) where README promises "failed again", exit 4."""
    from ictc.core.images import data_uri_to_image

    from fake_server import FakeOpenAIServer
    from fakes import colour_of

    def red(body, n):
        uri = next((p["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
                    for p in m["content"] if p.get("type") == "image_url"), None)
        return "500" if uri and colour_of(data_uri_to_image(uri)) == "red" else None

    monkeypatch.setenv("ICTC_MAX_RETRIES", "1")
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    args = ["--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]
    with FakeOpenAIServer(fault=red) as server:
        assert main(["run", str(tmp_path / "images"), "-c", "colour", "-k", "2", "--out", str(tmp_path / "run"),
                     "--base-url", server.url, "--concurrency", "8", *args]) == 4
        capsys.readouterr()
        assert main(["resume", str(tmp_path / "run")]) == 4
    assert "nothing changed: 3 image(s) failed again" in capsys.readouterr().out


def test_a_resume_with_nothing_left_to_do_reaches_no_model(tmp_path, capsys, monkeypatch):
    # a finished run's resume only rewrites its outputs: it had needed its servers up ("cannot reach ...", exit 3)
    from ictc.core.errors import ModelUnavailableError

    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context(vlm=CutsOneBlue())
    assert start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run2", context=ctx).failed == 1
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=fake_context())
    reached: list[str] = []

    def unreachable(settings):
        reached.append("models")
        raise ModelUnavailableError("vlm", "vision-model", "cannot reach http://127.0.0.1:9/v1", "openai")

    monkeypatch.setattr("ictc.graph.runtime.build_context", unreachable)
    capsys.readouterr()
    assert main(["resume", str(tmp_path / "run")]) == 0
    assert f"{tmp_path / 'run'} had finished: nothing was left to do" in capsys.readouterr().out
    assert resume_run(tmp_path / "run", context_factory=unreachable).version is None and not reached
    # a run with work left (a failed image to retry) reaches its models before its first step, as before
    assert main(["resume", str(tmp_path / "run2")]) == 3 and reached == ["models"]


def test_a_resume_with_nothing_left_to_do_keeps_the_version_s_calls_in_its_results(tmp_path):
    # the outputs rewritten by such a resume had said 0 model calls for every step
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    made = json.loads((tmp_path / "run" / "versions" / "v1" / "results.json").read_text())["calls"]
    assert made["describe"]["model_calls"] == 8
    again = resume_run(tmp_path / "run", context=fake_context())
    written = json.loads((tmp_path / "run" / "results.json").read_text())
    assert again.version is None and written["calls"] == made == again.results["calls"]
    assert not any(any(c.values()) for c in written["calls_this_pass"].values())
