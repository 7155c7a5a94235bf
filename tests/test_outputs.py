"""Run outputs: escaped HTML, atomic files, CSV columns the contract promises."""

from __future__ import annotations

import csv
import json

import pytest

from ictc.evaluation.outputs import write_atomic
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import FakeLLM, fake_context


class ScriptNamesLLM(FakeLLM):
    def respond(self, messages, **kwargs):
        answer = super().respond(messages, **kwargs)
        if "organise labels" in messages[0].content:
            return json.dumps({"names": ["<script>alert(1)</script>", "Green", "Blue"]})
        return answer


def test_model_text_is_escaped_in_the_report(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context(llm=ScriptNamesLLM())
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    html = (result.run_dir / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<img ") == sum(r["status"] == "ok" for r in result.rows)


def test_results_csv_has_the_contract_columns_and_input_order(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    with open(result.run_dir / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"image", "cluster", "description", "raw_label"} <= set(rows[0])
    assert [r["image"] for r in rows] == paths  # the order given
    data = json.loads((result.run_dir / "results.json").read_text())
    assert set(data["prompt_hashes"]) == {"describe", "label", "name_clusters", "assign"}
    image = data["images"][0]
    assert {"image", "sha256", "description", "raw_label", "cluster", "route", "seconds"} <= set(image)
    assert data["models"]["vlm"] == "fake-vlm" and "api_key" not in data["settings"]


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    write_atomic(target, "old")

    def disk_full(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ictc.evaluation.outputs.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new, but cut short")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_the_results_summary_is_results_json_but_its_rows_and_a_stale_or_missing_one_is_not_trusted(tmp_path):
    import os

    from ictc.evaluation.outputs import SUMMARY, read_summary, write_json, write_results

    results = {"version": 1, "clusters": [{"name": "Red", "size": 1}], "images": [{"image": "a.png", "cluster": "Red"}]}
    write_results(tmp_path, results)
    assert read_summary(tmp_path) == {"version": 1, "clusters": [{"name": "Red", "size": 1}]}
    assert "images" not in (tmp_path / SUMMARY).read_text()
    write_json(tmp_path / "results.json", {**results, "version": 2})  # rewritten by a writer without summaries
    stamp = (tmp_path / SUMMARY).stat().st_mtime_ns - 10**9
    os.utime(tmp_path / SUMMARY, ns=(stamp, stamp))
    assert read_summary(tmp_path)["version"] == 2
    (tmp_path / SUMMARY).unlink()  # a run written before the summary existed
    assert read_summary(tmp_path) == {"version": 2, "clusters": [{"name": "Red", "size": 1}]}
