"""Prompt templates (one file per step), criterion presets, and the one function that renders them."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from string import Template

from ictc.core.errors import UsageError

STEPS = ("describe", "label", "name_clusters", "assign")
ALL_STEPS = "all"
# The one spelling of the steps everywhere (CLI, API, UI, results), with the paper's numbers as aliases.
STEP_ALIASES = {"1": "describe", "2a": "label", "2b": "name_clusters", "3": "assign", "names": "name_clusters",
                **{step: step for step in (*STEPS, ALL_STEPS)}}


def step_name(text: str) -> str:
    """The step's name for `text`: describe, label, name_clusters, assign or all; 1, 2a, 2b and 3 are aliases.

    Raises UsageError naming the value when it is none of these."""
    key = str(text).strip().lower()
    if key not in STEP_ALIASES:
        raise UsageError(f"unknown step {text!r}: use describe (1), label (2a), name_clusters (2b), assign (3) or all")
    return STEP_ALIASES[key]
_SECTION = re.compile(r"^\[(system|user|assistant)\]\n", re.MULTILINE)


@dataclass(frozen=True)
class Criterion:
    """What the user asked to group by, with the optional preset's per-step hints and their instructions."""

    text: str
    preset: str | None = None
    instructions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def hint(self, step: str) -> str:
        """The preset's hint for `step` (presets.json), "" without a preset or hint. KeyError for an unknown preset."""
        if not self.preset:
            return ""
        return presets()[self.preset].get(step, "")

    def instructions_for(self, step: str) -> list[str]:
        """The instructions that go into `step`'s prompt: those for every step first, then the step's own."""
        return [*self.instructions.get(ALL_STEPS, ()), *self.instructions.get(step, ())]

    def with_instruction(self, text: str, step: str = ALL_STEPS) -> Criterion:
        """A copy with `text` added to the prompts of `step` (a name or alias, see step_name; "all": every step).

        Raises UsageError for an unknown step."""
        step = step_name(step)
        merged = dict(self.instructions)
        merged[step] = (*merged.get(step, ()), text)
        return Criterion(self.text, self.preset, merged)

    def to_dict(self) -> dict:
        """JSON-ready form (text, preset, instructions as lists), as kept in the run state and results.json."""
        return {"text": self.text, "preset": self.preset,
                "instructions": {k: list(v) for k, v in self.instructions.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> Criterion:
        """The inverse of to_dict; preset and instructions may be absent. Raises KeyError without "text"."""
        return cls(data["text"], data.get("preset"),
                   {k: tuple(v) for k, v in (data.get("instructions") or {}).items()})


@cache
def presets() -> dict[str, dict[str, str]]:
    """The presets of presets.json: name -> {"criterion": its text, step name: that step's hint}; read once."""
    return json.loads(resources.files(__package__).joinpath("presets.json").read_text("utf-8"))


def clean_criterion(text: str) -> str:
    """A criterion without the question mark, full stop or "please" typed after it, and without a leading filler or
    possessive ("actually colour", "their main colour": a newcomer's reached every prompt), or a leading article ("the
    shade" -> "shade": a thirteenth newcomer's run was grouped by "the shade"). The chat's and the CLI's --criterion
    alike ("brightness?" had been a new criterion from the CLI, Step 1 redone)."""
    text = re.sub(r"(?:[\s,]+(?:please|thanks|thank you))+$", "", text.strip().rstrip(".!?;:, "), flags=re.I).strip()
    return re.sub(r"^(?:(?:actually|well|so|hmm+|um+|ok(?:ay)?|now|their|its|these|those|the|an?)[,\s]+)+", "", text,
                  flags=re.I).strip() or text


MAX_CRITERION_CHARS = 300  # a criterion is a few words; a page of text in every prompt is a paste gone wrong
SHOWN_CHARS = 60  # a criterion shown in one line (a version's label, the headline, Recent runs) is cut to this


def criterion_too_long(text: str) -> str:
    """The one line that refuses `text` as a criterion when it is over MAX_CRITERION_CHARS characters; "" when it fits.
    Shared by the CLI, the API and the chat (a 3,600-character "group by ..." had been taken and repeated in full)."""
    if len(text) <= MAX_CRITERION_CHARS:
        return ""
    return (f"the criterion is {len(text)} characters long; the limit is {MAX_CRITERION_CHARS}: say what to group by "
            "in a few words")


def shortened(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text` as it is when it has at most `limit` characters, else its first ones and "…" (`limit` in all)."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def instructions_in_force(criterion: dict) -> list[str]:
    """The run's instructions as `"text" (step)` in the order given ("all steps" for those of every step), from
    results.json's criterion {"instructions": {step: [text, ...]}}: the chat and report.html say them alike."""
    return [f"“{text}” ({'all steps' if step == ALL_STEPS else step})"
            for step, texts in (criterion.get("instructions") or {}).items() for text in texts]


def make_criterion(text: str | None, preset: str | None = None) -> Criterion:
    """A criterion from free text, a preset name, or both (text wins, preset adds its hints). Text that is a
    preset's name selects that preset. Raises UsageError for an unknown preset, an empty criterion or one over
    MAX_CRITERION_CHARS characters."""
    if preset is not None and preset not in presets():
        raise UsageError(f"unknown preset {preset!r}: choose one of {', '.join(sorted(presets()))}")
    if preset is None and text and text.strip().lower() in presets():
        preset = text.strip().lower()
    chosen = (text or "").strip() or (presets()[preset]["criterion"] if preset else "")
    if not chosen:
        raise UsageError("the criterion is empty: say what to group the images by, e.g. --criterion mood")
    if too_long := criterion_too_long(chosen):
        raise UsageError(too_long)
    return Criterion(chosen, preset)


@cache
def _template(name: str) -> list[tuple[str, Template]]:
    text = resources.files(__package__).joinpath(f"{name}.txt").read_text("utf-8")
    parts = _SECTION.split(text)[1:]  # [role, body, role, body, ...]
    return [(role, Template(body.strip("\n"))) for role, body in zip(parts[::2], parts[1::2], strict=True)]


def render(name: str, criterion: Criterion, step: str | None = None, **values: object) -> list[tuple[str, str]]:
    """Fill template `name` for `step` (default: the template's own name): returns (role, text) pairs.

    The criterion, the preset's hint and the instructions for `step` are filled in, then `values`.
    Raises KeyError for a placeholder left without a value; FileNotFoundError for an unknown template."""
    step = step or name
    extra = criterion.instructions_for(step)
    filled = {
        "criterion": criterion.text,
        "hint": f" {criterion.hint(step)}" if criterion.hint(step) else "",
        "instructions": "\nAlso follow these instructions:\n" + "\n".join(f"- {i}" for i in extra) if extra else "",
        **{k: str(v) for k, v in values.items()},
    }
    return [(role, template.substitute(filled)) for role, template in _template(name)]


def prompt_hash(messages: list[tuple[str, str]]) -> str:
    """A short id of a rendered prompt: the first 16 hex digits of the SHA-256 of its roles and texts."""
    joined = "\x1e".join(f"{role}\x1f{text}" for role, text in messages)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]
