"""What a newcomer's try of the chat app found (issue 22, second pass): the sample photos' class names, a
landing page that does not wait for the pipeline's imports, thumbnail captions that keep where names differ,
a readable confusion matrix at K = 27, endpoint errors in one plain sentence, the greeting said once, and
the page's place kept after a message."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

from test_ui_app import finished_app, messages, open_app, say, use_folder, wait_for_job  # noqa: F401 (a fixture: a finished run in the app)

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


def test_thumbnail_captions_keep_where_the_names_differ(tmp_path):
    from ictc.ui.views import short_name

    names = [Path(p).name for p in from_samples("both", tmp_path / "samples").paths]
    captions = [short_name(name) for name in names]
    assert len(set(captions)) == len(names) == 40  # each photo's caption is its own
    # whole (they wrap in their cell): a 12-character cut had read "imag…_00_243" and "cifa…10_05_6"
    assert captions == names and short_name("cifar10_10_05_6.png") == "cifar10_10_05_6.png"
    # a long one keeps its start and its end, the extension with it
    assert short_name("a_very_long_photo_name_from_the_camera_0001.jpg") == "a_very_long_photo_na…camera_0001.jpg"
    assert len(short_name("x" * 80 + ".jpeg")) == 36 and short_name("x" * 80 + ".jpeg").endswith("xxx.jpeg")
    style = (ROOT / "ui" / "style.css").read_text("utf-8")  # and the page lets them wrap, anywhere
    assert re.search(r"\.st-key-thumbgrid button p[^{]*\{[^}]*white-space: normal;[^}]*overflow-wrap: anywhere", style)


def test_the_confusion_plot_grows_with_k_and_is_shown_at_its_own_size(finished_app, tmp_path):  # noqa: F811
    from PIL import Image

    from ictc.evaluation.metrics import CELL_INCHES, plot_confusion, score

    classes = [f"class {i}" for i in range(29)]
    clusters = [f"Cluster {i}" for i in range(27)]
    scores = score([clusters[i % 27] for i in range(290)], [classes[i % 29] for i in range(290)])
    plot_confusion(scores, tmp_path / "confusion.png")
    width, height = Image.open(tmp_path / "confusion.png").size
    assert width >= 27 * CELL_INCHES * 100 and height >= 29 * CELL_INCHES * 100  # 45 px a cell, labels 10 pt
    app, _ = finished_app
    app.session_state["tab"] = "Metrics"
    app.run()
    shown = [m.value for m in app.markdown if 'class="confusion"' in m.value]
    assert len(shown) == 1 and "data:image/png;base64," in shown[0]  # not st.image, which scales it to the pane


def test_the_greeting_is_said_once_and_no_status_line_before_a_run():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60)
    app.session_state["context_factory"] = lambda settings: None
    app.run()
    said = [m.value for m in app.markdown if "Choose images on the left" in m.value]
    assert len(said) == 1, said
    assert not app.info  # no second word on it beside the chat


def test_an_endpoint_error_is_one_plain_sentence_with_the_detail_folded(colour_images, tmp_path, monkeypatch):
    """Step 2b's one call fails with a raw HTTP 500 from the OpenAI client: the chat says which step, model
    and server, and what to do, in one line; the client's text is behind Details."""
    from streamlit.testing.v1 import AppTest

    from fake_server import FakeOpenAIServer

    def naming_fails(body, n):
        return "500" if "organise labels into categories" in str(body) else None

    with FakeOpenAIServer(fault=naming_fails) as server:
        for name, value in {"ICTC_BACKEND": "openai", "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "test-key",
                            "ICTC_VLM": "vision-model", "ICTC_LLM": "text-model",
                            "ICTC_UI_ENV_FILE": str(tmp_path / "none.env")}.items():
            monkeypatch.setenv(name, value)
        app = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()
        app.radio(key="source").set_value("Folder on the server").run()
        app.text_input(key="folder").input(str(Path(colour_images[0][0]).parent))  # sent by the button (a form)
        app.button(key="use-folder").click().run()
        app.chat_input(key="chat").set_value("group these by colour, 3 groups").run()
        app.chat_input(key="chat").set_value("go").run()
        app.session_state["ictc_session"].job.thread.join(60)
        app.run()
    last = app.chat_message[-1]
    text = last.markdown[0].value
    assert text.startswith("Step 2b · name clusters stopped: the LLM 'text-model' is not available at "
                           f"{server.url}: the server answered with an error. To fix: ")
    assert "Error code" not in text and "\n" not in text and len(text) < 260
    assert "Error code: 500" in last.expander[0].code[0].value  # the raw text, folded under Details


def test_a_labels_file_that_cannot_be_read_is_said_when_the_folder_is_chosen_not_at_go(colour_images):
    """A newcomer's labels.csv the run could not read: the sidebar had said "metrics on" and the run failed at go."""
    from fakes import fake_context

    paths, _ = colour_images
    labels = Path(paths[0]).parent / "labels.csv"
    labels.write_text("filename,colour,size\n" + "".join(f"{Path(p).name},x,1\n" for p in paths), "utf-8")
    app = open_app(fake_context())
    use_folder(app, labels.parent)
    assert "8 images" in app.success[0].value and "metrics on" not in app.success[0].value
    assert app.warning[0].value.startswith(f"{labels}: not used, metrics off (labels file {labels} needs a header row")
    say(app, "group by colour, 3 groups")
    say(app, "go")
    assert wait_for_job(app).startswith("Done in")


def test_a_first_run_refused_at_its_start_keeps_the_reading_and_no_empty_folder(colour_images):
    """The labels file spoilt after it was chosen: the run is refused at its start, and "go" again runs it (the
    reading had been lost: "I still need what to group by", and an empty run-1 left)."""
    from fakes import fake_context

    paths, labels = colour_images
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    Path(labels).write_text("photo,kind\n", "utf-8")
    say(app, "group by colour, 3 groups")
    say(app, "go")
    refused = wait_for_job(app)
    assert f"labels file {labels} needs a header row" in refused
    assert refused.endswith("The labels file is set aside: metrics off. My reading stays: group by **colour**; "
                            "K = **3**; say **go** to run it.")
    session = app.session_state["ictc_session"]
    assert session.run_dir is None and not (session.folder / "run-1").exists()
    say(app, "go")
    assert wait_for_job(app).startswith("Done in")
