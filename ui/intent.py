"""Reading what the user types in the chat: explicit commands exactly, free words through the configured
LLM's structured output (ui/intent_llm.py), and, when the LLM is missing or its answer unusable, a rule parser
(ui/intent_rules.py); the words they share are in ui/chat_words.py. Here: a message's reading (Intent), the
commands, and the order the readers are asked in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ictc.graph.commands import parse_command
from ictc.nodes.actions import Action, AddInstruction, SetCriterion, SetK
from ictc.ui.k_range import one_k_of_range
from ictc.ui.wording import without_courtesy

COMMAND_VERBS = {"rename", "merge", "split", "k", "criterion", "instruction"}


@dataclass
class Intent:
    """One message, read. `kind`: go | cancel | undo | request (criterion and/or K) | change | thanks | help |
    start_over | unclear."""

    kind: str
    criterion: str = ""
    k: int = 0
    preset: str | None = None
    instructions: list[str] = field(default_factory=list)
    action: Action | None = None
    source: str = "rules"  # command | llm | rules
    problem: str = ""  # what could not be read, said back to the user
    auto_k: bool = False  # issue 21 (ui/grouping_intent.py): K proposed; the user's own names; an "other" group
    names: list[str] = field(default_factory=list)
    other: bool = False
    version: int = 0  # kind "undo": the version to go back to (0: the one before the current one)
    sure: bool = False  # the rules matched the whole message; their reading then wins over the LLM's


def read_command(text: str, names: list[str]) -> Intent | None:
    """The review syntax (`k=5`, `merge 2 3`, `rename 1 Happy`); None when the message is not one."""
    first = text.strip().split()[0].lower() if text.strip() else ""
    if (first not in COMMAND_VERBS and not first.startswith("k=")) or (first.startswith("k=") and "," in text):
        return None  # "k=3, criterion=colour": more than the command, read by the rules
    if first == "split" and not names and re.search(r"\bby\b", text.lower()):
        return None  # "split them into three by animal type": a first request, read by the rules
    if first in ("merge", "split", "rename") and not names:
        return Intent("unclear", source="command", problem=f"there are no clusters to {first} yet")
    if first == "rename" and (m := re.match(r"rename\s+(.+?)\s+(?:to|as|into)\s*$", text.strip(), re.I)):
        # "rename 1 to " (the name left out) had renamed cluster 1 "to"
        return Intent("unclear", source="command", sure=True,
                      problem=f'rename {m[1]} to what? Say the new name too, e.g. "rename {m[1]} to Calm"')
    if first == "rename" and re.search(r"\s(?:to|as|into)\s", text.lower()):
        return None  # "rename Red to Warm" reads better by the rules, which drop the "to"
    try:
        action = parse_command(text, names or [""])
    except ValueError as exc:
        # "merge 1 2 3 as All", "rename 9 Foo" with 5 clusters, "rename other 6 Misc" without one: said plainly
        if "two clusters at a time" in str(exc) or re.match(r"no cluster '(?:[^']* )?\d+'", str(exc)):
            return Intent("unclear", source="command", problem=str(exc), sure=True)
        if first in ("merge", "split", "rename"):
            return None  # "merge red and blue", "rename 'ship' Boats": free words, not the numbered syntax
        return Intent("unclear", source="command", problem=str(exc))
    return Intent("change", action=action, source="command")


def read_intent(text: str, names: list[str], criterion: str = "", llm_json: Any = None) -> Intent:
    """Commands first (exact), then the rules when they are sure (they read the whole message), then the
    LLM, then the rules' best guess. Never raises for what a user types. A range for K ("2-3 groups") is read as
    its larger end, and the reading says so in `problem` (ui/k_range.py): it had been K = 3 without a word."""
    if not text.strip():
        return Intent("unclear", problem="the message is empty")
    text, k_range = one_k_of_range(without_courtesy(text))
    intent = _read(text, names, criterion, llm_json)
    if k_range and (intent.k or isinstance(intent.action, SetK)) and not intent.problem:
        intent.problem = k_range
    return intent


def _read(text: str, names: list[str], criterion: str, llm_json: Any) -> Intent:
    from ictc.ui.grouping_intent import read_grouping  # imports this module's Intent
    from ictc.ui.k_said import k_checked as _k_checked  # reads into this module's Intent

    if (grouping := read_grouping(text, names)) is not None:
        return grouping
    if (command := read_command(text, names)) is not None:
        return _k_checked(command, text)
    from ictc.ui.intent_rules import read_by_rules  # it reads into this module's Intent

    rules = read_by_rules(text, names)
    if rules.sure or llm_json is None:
        return _k_checked(rules, text)
    from ictc.ui.intent_llm import read_by_llm  # it reads into this module's Intent

    try:
        return _k_checked(read_by_llm(llm_json, text, names, criterion), text)
    except Exception:  # noqa: BLE001 (any failure of the LLM here only means: read by the rules)
        return _k_checked(rules, text)


def as_actions(intent: Intent) -> list[Action]:
    """A request or change, once clusters exist, as the review actions it stands for (in order)."""
    if intent.action is not None:
        return [intent.action]
    actions: list[Action] = [AddInstruction(text) for text in intent.instructions]
    if intent.criterion:
        actions.append(SetCriterion(intent.criterion, intent.preset))
    if intent.k:
        actions.append(SetK(intent.k))
    return actions
