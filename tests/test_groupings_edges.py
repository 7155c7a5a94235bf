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


@pytest.mark.parametrize(("given", "names"), [
    ('"red", "green"', ["red", "green"]),  # quoted for a shell: the quotes had stayed in the names
    ('"light red, dark red", green', ["light red, dark red", "green"]),  # a name holding a comma
    ("red, green, Other", ["red", "green", "other"]),  # the other group, whatever its case
    ("Others, red", ["other", "red"]),
])
def test_names_are_read_as_a_csv_line_and_other_in_any_case_is_the_other_group(given, names):
    from ictc.nodes.user_names import parse_names

    assert parse_names(given) == names


def test_with_other_takes_a_step_2b_name_other_as_that_group():
    from ictc.nodes.user_names import with_other

    assert with_other({"names": ["Red", "Other"]}, True)["names"] == ["Red", "other"]
    assert with_other({"names": ["Red", "Green"]}, True)["names"] == ["Red", "Green", "other"]
    assert with_other({"names": ["Red", "Other"]}, False)["names"] == ["Red", "Other"]  # no other group asked


def test_a_name_other_with_the_other_flag_is_one_group(folder, tmp_path, capsys):
    """`--names "red,green,Other" --other` made two groups, 'Other' and 'other', the first never used."""
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "--names", '"red", green, Other', "--other",
                     "--out", str(tmp_path / "run"), "--base-url", server.url, *MODELS]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["cluster_names"] == ["red", "green", "other"] and "other" in results
