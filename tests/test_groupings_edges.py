"""Issue 21's features at their edges, as a break-it round found them: no standard input at a -k auto or review
prompt, odd --names, -k auto on too few images, several criteria interrupted, a coarser level edited afterwards."""

from __future__ import annotations

import json

import pytest

from ictc.cli import main

from fake_server import FakeOpenAIServer

MODELS = ["--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]


@pytest.mark.parametrize("flags", [["-k", "auto"], ["-k", "3", "--review"]])
def test_no_standard_input_at_a_prompt_takes_the_default(folder, tmp_path, capsys, monkeypatch, flags):
    """`ictc run ... -k auto <&-` (stdin closed: sys.stdin is None) ended as an internal error, exit 2, at the K pick."""
    monkeypatch.setattr("sys.stdin", None)
    with FakeOpenAIServer() as server:
        code = main(["run", str(folder), "-c", "colour", *flags, "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(json.loads((tmp_path / "run" / "results.json").read_text())["cluster_names"]) == 3
