"""Packaging: the endpoint backend needs neither torch nor transformers nor streamlit (they are the `local`
and `ui` extras), and the declared dependencies say so."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from fake_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]

# Runs `ictc run` with the extras made unimportable, as on a machine where only `pip install ictc` was run.
WITHOUT_EXTRAS = """
import sys
class NoExtras:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "streamlit", "accelerate", "gguf"):
            raise ImportError(f"{name} is not installed (the test hides it)")
sys.meta_path.insert(0, NoExtras())
from ictc.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_base_dependencies_leave_torch_transformers_and_streamlit_to_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    assert not any(heavy in base for heavy in ("torch", "transformers", "streamlit"))
    extras = project["optional-dependencies"]
    assert any(d.startswith("torch==") for d in extras["local"]) and any("transformers" in d for d in extras["local"])
    assert any(d.startswith("streamlit") for d in extras["ui"])
    assert (ROOT / "LICENSE").read_text().startswith(f"{project['license']} License")


def test_an_endpoint_run_works_without_the_local_and_ui_extras(colour_images, tmp_path):
    paths, labels = colour_images
    with FakeOpenAIServer() as server:
        done = subprocess.run(
            [sys.executable, "-c", WITHOUT_EXTRAS, "run", str(Path(paths[0]).parent), "-c", "colour", "-k", "3",
             "--out", str(tmp_path / "run"), "--backend", "openai", "--base-url", server.url,
             "--vlm", "vision-model", "--llm", "text-model", "--labels", str(labels)],
            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
                                                 "OPENAI_API_KEY": "sk-test", "HOME": str(tmp_path),
                                                 "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "results.json").read_text())["metrics"]["acc"] == 1.0


def test_every_package_of_ictc_is_in_the_wheel():
    # setuptools takes the packages listed, no others: ictc.cli, the `ictc` command's own (project.scripts), had
    # been left out of the wheel, so an installed `ictc` failed with "No module named 'ictc.cli'"
    import os

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(Path(folder).relative_to(ROOT).parts) for folder, _, files in os.walk(ROOT / "ictc", followlinks=True)
             if "__init__.py" in files and "__pycache__" not in folder}
    assert found == listed
