"""WordNet's kinds (label_kinds) against the rest of the product: refinement of a run whose labels joined their
kinds, odd labels, and the reader of a run's results."""

from __future__ import annotations

import pytest
from test_label_kinds import KindsLLM

from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.nodes.actions import Split
from ictc.prompts import make_criterion

from fakes import fake_context, make_images

pytestmark = pytest.mark.levers  # the defaults, levers on

WORDS = {"red": "horse", "yellow": "pony", "green": "car", "blue": "ship"}  # pony joins horse


@pytest.fixture
def joined(tmp_path):
    """A K = 3 run where the two pony images came to "horse" by the kind route."""
    paths, _ = make_images(tmp_path / "img", {"red": 2, "yellow": 2, "green": 3, "blue": 3})
    ctx = fake_context(llm=KindsLLM(words=WORDS), llm_id="fake-kinds")
    result = start_run(paths, make_criterion("animal or vehicle"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert result.results["naming"]["label_kinds"] == {"pony": "horse"} and result.results["routes"]["kind"] == 2
    return result


def _clusters(result) -> dict[str, str]:
    return {row["image"].rsplit("/", 1)[1]: row["cluster"] for row in result.results["images"]}


def test_a_split_of_a_cluster_its_sub_kinds_joined_puts_them_in_their_own_part(joined):
    # the split's parts are named from the images' own labels (horse, pony); the pony images had gone back to
    # "horse" by their kind, the "pony" part stayed empty and the split found one group
    result = refine_run(joined.run_dir, Split("horse", 2), context=fake_context(llm=KindsLLM(words=WORDS),
                                                                                 llm_id="fake-kinds"))
    assert result.version == 2 and result.results["cluster_names"] == ["horse", "pony", "car", "ship"]
    clusters = _clusters(result)
    assert {clusters["yellow_0.png"], clusters["yellow_1.png"]} == {"pony"}
    assert {clusters["red_0.png"], clusters["red_1.png"]} == {"horse"}
