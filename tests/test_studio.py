"""LangGraph Studio: the graph named in langgraph.json loads the way `langgraph dev` loads it (a file path
and a variable), and runs against an endpoint with a context built from the settings in the environment."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from ictc.graph.run import hash_images
from ictc.prompts import make_criterion

from fake_server import FakeOpenAIServer

ROOT = Path(__file__).parent.parent


def load_studio_graph():
    """Import the file named in langgraph.json as a module of its own and return the named variable."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    file, variable = config["graphs"]["ictc"].split(":")
    spec = importlib.util.spec_from_file_location("ictc_studio_entry", ROOT / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as langgraph-api does: dataclasses need their module registered
    spec.loader.exec_module(module)
    module._context_for.cache_clear()  # models built from this test's environment
    return getattr(module, variable), module


@pytest.fixture
def endpoint(monkeypatch):
    with FakeOpenAIServer() as server:
        for name, value in {"ICTC_BACKEND": "openai", "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test",
                            "ICTC_VLM": "vision-model", "ICTC_LLM": "text-model", "ICTC_CONCURRENCY": "2"}.items():
            monkeypatch.setenv(name, value)
        yield server


def _input(paths: list[str], k: int) -> dict:
    items, failures = hash_images(paths)
    return {"images": items, "criterion": make_criterion("colour").to_dict(), "n_clusters": k, "failures": failures}


def test_studio_graph_has_the_nodes_and_a_settings_context():
    graph, module = load_studio_graph()
    assert {"describe", "label", "propose_k", "name_clusters", "assign", "coarsen"} <= set(graph.nodes)
    assert graph.context_schema is module.StudioSettings
    drawing = graph.get_graph().draw_mermaid()  # what Studio draws: every edge, the conditional ones dotted
    assert "label_window_done -.-> propose_k" in drawing and "propose_k -.-> pick_k" in drawing
    assert "coarsen -.-> review_clusters" in drawing


def test_studio_graph_runs_against_the_endpoint_with_no_context(colour_images, endpoint):
    graph, _ = load_studio_graph()
    paths, _ = colour_images
    state = graph.invoke(_input(paths, 3))  # no context: built from the environment's settings
    assert len(state["naming"]["names"]) == 3 and len(state["assignments"]) == 8
    assert sum(r["body"]["model"] == "vision-model" for r in endpoint.requests) == 8


def test_studio_graph_takes_settings_overrides_as_context_asynchronously(colour_images, endpoint):
    graph, _ = load_studio_graph()
    paths, _ = colour_images

    async def run():
        # as a server may pass it: settings overrides beside keys that are no setting
        return await graph.ainvoke(_input(paths, 2), context={"concurrency": 1, "llm": "text-model", "thread_id": "x"})

    state = asyncio.run(run())
    assert len(state["naming"]["names"]) == 2 and len(state["assignments"]) == 8


def test_studio_input_takes_k_auto_and_names_as_text(colour_images, endpoint):
    """A Studio user's `"n_clusters": "auto"` (as -k auto) ended in "TypeError: '<' not supported between instances
    of 'int' and 'str'" deep in a node; a K typed as "3" too. A K that is neither is refused in one line."""
    from ictc.core.errors import UsageError

    graph, _ = load_studio_graph()
    paths, _ = colour_images
    state = graph.invoke({**_input(paths, 0), "n_clusters": "auto"})
    assert state["k_choice"]["chosen"] == 3 and len(state["naming"]["names"]) == 3
    assert len(graph.invoke({**_input(paths, 0), "n_clusters": "2"})["naming"]["names"]) == 2
    named = graph.invoke({**_input(paths, 0), "user_names": "red, green, blue"})
    assert named["naming"]["names"] == ["red", "green", "blue"]
    with pytest.raises(UsageError, match="K must be a whole number or 'auto', not 'many'"):
        graph.invoke({**_input(paths, 0), "n_clusters": "many"})
