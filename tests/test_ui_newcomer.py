"""What a newcomer's try of the chat app found (issue 22, second pass): the sample photos' class names, a
landing page that does not wait for the pipeline's imports, thumbnail captions that keep where names differ,
a readable confusion matrix at K = 27, endpoint errors in one plain sentence, the greeting said once, and
the page's place kept after a message."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from ictc.core.samples import IMAGENET_CLASSES, export_samples
from ictc.ui.sources import from_samples

ROOT = Path(__file__).parent.parent


def test_the_imagenet_sample_photos_are_labelled_with_class_names(tmp_path):
    folder, count = export_samples(tmp_path / "samples")["imagenet"]
    with open(folder / "labels.csv", encoding="utf-8") as handle:
        labels = {Path(row["image"]).name: row["label"] for row in csv.DictReader(handle)}
    assert count == len(labels) == 20
    assert labels["imagenet_00_243.jpg"] == "bull mastiff"
    assert labels["imagenet_06_609.jpg"] == labels["imagenet_07_609.jpg"] == "jeep"
    assert labels["imagenet_17_22.jpg"] == "bald eagle"
    assert set(labels.values()) <= set(IMAGENET_CLASSES.values())  # every photo's class is in the table
    assert not any(label.startswith(("imagenet", "class ")) for label in labels.values())


def test_a_samples_folder_written_before_the_class_names_is_written_again(tmp_path):
    folder = tmp_path / "samples"
    export_samples(folder)
    stale = folder / "imagenet" / "labels.csv"
    stale.write_text(stale.read_text("utf-8").replace(",bull mastiff", ",imagenet-243"), "utf-8")
    chosen = from_samples("both", folder)
    text = Path(chosen.labels or "").read_text("utf-8")
    assert len(chosen.paths) == 40 and ",bull mastiff" in text and "imagenet-" not in text


def test_the_landing_page_modules_import_no_pipeline():
    """The app's own modules load without LangGraph, LangChain, the OpenAI client or numpy-heavy stacks: the
    first page of a fresh server paints in about 2 s instead of 5-7 s (bench/ui_paint.py --first-load)."""
    heavy = ("langgraph", "langchain_core", "openai", "chromadb", "torch", "transformers", "sklearn", "matplotlib")
    code = ("import sys; import ictc.ui.session, ictc.ui.views, ictc.ui.panels, ictc.ui.crosstab_view, "
            "ictc.ui.sources, ictc.ui.outcomes, ictc.ui.jobs, ictc.ui.conversation, ictc.ui.intent; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
