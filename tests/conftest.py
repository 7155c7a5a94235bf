"""Shared fixtures. Every test runs offline: no hub access, no downloads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for variable in [v for v in os.environ if v.startswith("ICTC_") or v in ("OPENAI_BASE_URL", "OPENAI_API_KEY")]:
    del os.environ[variable]  # the developer's own settings must not leak into tests
sys.path.insert(0, str(Path(__file__).parent))

from fakes import make_images  # noqa: E402


@pytest.fixture
def colour_images(tmp_path):
    """8 solid-colour photos (3 red, 3 green, 2 blue) and their labels.csv."""
    return make_images(tmp_path / "images", {"red": 3, "green": 3, "blue": 2})


@pytest.fixture
def folder(colour_images):
    """The folder of `colour_images` (8 images: 3 red, 3 green, 2 blue), as `ictc run` is given it."""
    return Path(colour_images[0][0]).parent


@pytest.fixture
def joined(tmp_path):
    """A K = 3 run (fakes.kinds_run) where the two pony images came to "horse" by the kind route (label_kinds),
    every other image by its label."""
    from fakes import kinds_run

    result = kinds_run(tmp_path)
    assert result.results["naming"]["label_kinds"] == {"pony": "horse"}
    assert result.results["routes"] == {"kind": 2, "label": 8}
    return result


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory):
    from tiny_models import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory):
    from tiny_models import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))


# The fakes' labels are the class words, so with the quality levers of issue 18 on, Steps 2b and 3 would never
# reach the fake model: tests of those model paths run with the levers off; tests/test_quality_levers.py
# (marker `levers`) runs with the defaults, and the defaults are checked there.
LEVERS_OFF = {"ICTC_NAMES_FROM_LABELS": "off", "ICTC_ASSIGN_BY_LABEL": "off", "ICTC_ENDPOINT_CHOICE": "enum",
              "ICTC_NAME_GROUPS": "off", "ICTC_ASSIGN_BY_GROUP": "off", "ICTC_LABEL_LEVELS": "off",
              "ICTC_EMBEDDING_PRIOR": "off"}


def _settings_in_environment() -> list[str]:
    return sorted(v for v in os.environ if v.startswith("ICTC_") or v in ("OPENAI_BASE_URL", "OPENAI_API_KEY"))


@pytest.fixture(autouse=True)
def restore_environment():
    """Commands that read a .env file write into os.environ; no test may leak settings into the next. Set up
    before the fixtures below (they ask for it), so the environment saved is the clean one, not one with their
    monkeypatched settings (a test's monkeypatch.undo() had left those in the environment of every later test,
    the levers off for the `levers` tests). A test that starts with settings in the environment fails, naming them."""
    if leaked := _settings_in_environment():
        pytest.fail(f"settings left in the environment by an earlier test: {', '.join(leaked)}")
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def model_paths_without_levers(request, restore_environment, monkeypatch):
    if request.node.get_closest_marker("levers") is None:
        for name, value in LEVERS_OFF.items():
            monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def private_workspace(tmp_path, restore_environment, monkeypatch):
    """Each test gets its own store folder, so reuse across tests cannot hide model calls."""
    monkeypatch.setenv("ICTC_WORKSPACE", str(tmp_path / "workspace"))
    return tmp_path / "workspace"

