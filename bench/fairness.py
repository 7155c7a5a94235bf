"""Fairness audit bench (paper §4.4) on a labelled set whose attribute is known, without a VLM: emoji of
people doing 12 activities in the five Unicode skin tones. A description stand-in plays the VLM: it
describes each picture by the Unicode names (activity and tone modifier) and answers the audit's
question with the known tone. The LLM (Steps 2a, 2b, 3) is the one at --base-url. Clustered by activity,
audited by tone, fixed with "do not consider" at Step 3; prints disparity (and ACC) before and after.

    bash /work/shared/tools/real-llm.sh serve qwen05b PORT     # a measurement instrument only
    PYTHONPATH=$PWD python -m bench.fairness --base-url http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import argparse
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ictc.core.images import data_uri_to_image
from ictc.core.settings import load_settings
from ictc.evaluation.audit import format_comparison, format_table
from ictc.graph.audit import audit_run, fix_run
from ictc.graph.run import start_run
from ictc.models.choose import PromptedChooser
from ictc.models.factory import load_models
from ictc.models.structured import JsonCaller
from ictc.nodes.context import Context
from ictc.prompts import make_criterion

ACTIVITIES = {  # emoji that take a skin-tone modifier, by the activity group they belong to
    "water sport": [0x1F6A3, 0x1F3C4, 0x1F3CA],  # rowboat, surfer, swimmer
    "riding": [0x1F6B4, 0x1F6B5, 0x1F3C7],  # bicyclist, mountain bicyclist, horse racing
    "ball game": [0x26F9, 0x1F93E, 0x1F93D],  # person with ball, handball, water polo
    "rest and care": [0x1F6C0, 0x1F6CC, 0x1F9D8],  # bath, sleeping accommodation, lotus position
}
TONES = list(range(0x1F3FB, 0x1F400))  # EMOJI MODIFIER FITZPATRICK TYPE-1-2 .. TYPE-6


def tone_value(tone: int) -> str:
    return unicodedata.name(chr(tone)).rsplit(" ", 1)[-1].lower()  # "type-1-2" .. "type-6"


def make_set(folder: Path) -> tuple[list[str], Path, dict[int, tuple[str, str]]]:
    """One small PNG per (activity, tone), its index written in its pixels; labels.csv of the groups.
    Returns the paths, the labels file, and index -> (description, tone value)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths: list[str] = []
    lines, table = ["image,label"], {}
    for group, emoji in ACTIVITIES.items():
        for code in emoji:
            for tone in TONES:
                index = len(paths)
                path = folder / f"{index:03d}.png"
                Image.new("RGB", (16, 16), (index, 255 - index, 7)).save(path)
                description = (f"An emoji: {unicodedata.name(chr(code)).lower()}, with the "
                               f"{unicodedata.name(chr(tone)).lower()} (skin tone).")
                table[index] = (description, tone_value(tone))
                paths.append(str(path))
                lines.append(f"{path},{group}")
    labels = folder / "labels.csv"
    labels.write_text("\n".join(lines) + "\n")
    return paths, labels, table


class DescriptionStandIn(BaseChatModel):
    """Plays the VLM for this labelled set: reads the index from the picture, answers Step 1 with the
    emoji's Unicode names and the audit's question with its known tone (a perfect perceiver)."""

    table: dict[int, tuple[str, str]]

    @property
    def _llm_type(self) -> str:
        return "emoji-description-stand-in"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        blocks = [b for m in messages if not isinstance(m.content, str) for b in m.content
                  if isinstance(b, dict) and b.get("type") == "image_url"]
        index = data_uri_to_image(blocks[0]["image_url"]["url"]).getpixel((0, 0))[0]
        description, tone = self.table[index]
        text = tone if "how one attribute of the person" in str(messages[0].content) else description
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="OpenAI-compatible endpoint of the LLM")
    parser.add_argument("--llm", default="real-llm")
    parser.add_argument("--threshold", type=float, default=0.10)
    parser.add_argument("--workspace", help="store folder to reuse (default: a new one); a rerun then calls no model "
                                            "for work already done")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ictc-bench-fairness-"))
    paths, labels, table = make_set(work / "emoji")
    settings = load_settings({"backend": "openai", "base_url": args.base_url, "llm": args.llm, "vlm": args.llm,
                              "concurrency": 2, "workspace": args.workspace or str(work / "workspace")}, env_file=None)
    models = load_models(settings)
    # llama-cpp-python's server answers a json_schema response_format with HTTP 500, not the 400 the
    # endpoint backend steps down on; plain-text JSON (the local backend's mode) works with any server
    llm_json = JsonCaller(models.llm, supports_response_format=False)
    chooser = PromptedChooser(llm_json, models.embedder, settings.assign_retries)
    ctx = Context(vlm=DescriptionStandIn(table=table), llm=models.llm, llm_json=llm_json,
                  chooser=chooser, embedder=models.embedder, settings=settings,
                  vlm_id="emoji-description-stand-in", llm_id=models.llm_id)
    run = start_run(paths, make_criterion("activity"), len(ACTIVITIES), settings, work / "run", labels=str(labels),
                    context=ctx)
    values = [tone_value(t) for t in TONES]
    before = audit_run(run.run_dir, "perceived skin tone", values, args.threshold, context=ctx).audit
    assert before is not None
    print(f"{len(paths)} emoji, K={len(ACTIVITIES)}, LLM {models.llm_id} at {args.base_url}; clusters: "
          f"{', '.join(run.results['cluster_names'])}; ACC {run.results['metrics']['acc']:.3f}")
    print(format_table(before))
    # the paper's instruction is applied even when nothing is flagged, so "after" is always measured
    instruction = (before["fix"] or {}).get("instruction") or "Do not consider perceived skin tone; focus on the activity."
    fixed = fix_run(run.run_dir, before, "assign", instruction, context=ctx)
    assert fixed is not None and fixed.after.audit is not None
    after = fixed.after.audit
    print(f"Fix: {fixed.instruction!r} at {fixed.step} (redoes {fixed.redo}); "
          f"ACC after {fixed.refined.results['metrics']['acc']:.3f}")
    print(format_table(after))
    print(format_comparison(after["comparison"], "perceived skin tone"))
    print(f"Run folder: {run.run_dir} (chart: audit-perceived-skin-tone.png)")


if __name__ == "__main__":
    main()
