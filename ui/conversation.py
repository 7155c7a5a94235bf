"""The chat's memory and manners, without Streamlit: gather what a run needs, say back what was read,
ask for what is missing, and start a run or a model-calling change only after the user says go."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ictc.models.other import OTHER
from ictc.nodes.actions import (
    Action,
    AddInstruction,
    Merge,
    ProposeK,
    Remove,
    RemoveInstructions,
    Rename,
    SetCriterion,
    SetK,
    describe_action,
    same_text,
)
from ictc.prompts import criterion_too_long, presets
from ictc.ui.guides import (
    ASK_CRITERION,
    REFINE_GUIDE,
    REFINE_HELP,
    SETUP_GUIDE,
    SETUP_HELP,
    cannot_run,
    k_change_said,
    same_k_said,
)
from ictc.ui.intent import Intent, as_actions, read_intent
from ictc.ui.intent_rules import criterion_phrase
from ictc.ui.questions import CAN_ANSWER, WHY_K, answer_question, is_question, k_choice_said
from ictc.ui.run_preview import (
    previewer as previewer,  # session.py's import of it, from where it was
)

GREETINGS = {"hi", "hello", "hey", "hi there", "hello there", "good morning", "good afternoon", "good evening"}
NO_MODEL = (Rename, Merge)  # changes that call no model: applied at once, without waiting for "go"


def calls_no_model(action: Action) -> bool:
    """Whether `action` never calls a model, whatever the run: a rename, a merge, removing the empty clusters."""
    return isinstance(action, NO_MODEL) or (isinstance(action, Remove) and not action.cluster)


@dataclass
class Request:
    """What a new run needs; filled over one or more messages, corrected by later ones."""

    criterion: str = ""
    k: int = 0
    preset: str | None = None
    instructions: list[str] = field(default_factory=list)
    auto_k: bool = False  # K proposed from the labels (the best is taken; another is one "use K groups" away)
    names: list[str] = field(default_factory=list)  # the user's own categories (no Step 2b)
    other: bool = False  # an "other" group for images no name fits

    def missing(self) -> list[str]:
        """What the run still needs, in words: "what to group by" without a criterion, "how many groups (K)"
        without K, auto K or the user's names; [] when it can start."""
        return [what for what, have in (("what to group by", self.criterion),
                                        ("how many groups (K)", self.k or self.auto_k or self.names)) if not have]

    def run_args(self) -> dict:
        """start_run's n_clusters, names and other for this request."""
        return {"n_clusters": 0 if self.names else ("auto" if self.auto_k and not self.k else self.k),
                "names": self.names or None, "other": self.other}

    def reading(self) -> str:
        """The request as read so far, in one Markdown line to say back: criterion, K (or the user's
        categories, or K from the labels), the "other" group, the preset and each instruction."""
        k_text = (f"into your categories **{', '.join(self.names)}**" if self.names else f"K = **{self.k}**" if self.k
                  else "K: **proposed from the labels**" if self.auto_k else "K: *not given yet*")
        parts = [f"group by **{self.criterion}**" if self.criterion else "criterion: *not given yet*", k_text]
        if self.other:
            parts.append("an **other** group for images none fits")
        if self.preset:
            parts.append(f"preset **{self.preset}** (its per-step hints are used)")
        parts += [f"instruction: *{text}*" for text in self.instructions]
        return "; ".join(parts)


@dataclass
class Reply:
    """The assistant's answer to one message (`text`, Markdown) and what the page must do now: start a run,
    apply refinements, or go back to a version."""

    text: str
    start: Request | None = None  # start this run now
    apply: list[Action] = field(default_factory=list)  # apply these refinements now, in order
    back_to: int | None = None  # go back now: to this version, or 0 for the one before the current one


@dataclass
class Conversation:
    """The chat's state: the run being asked for, the model-calling changes waiting for "go" (`pending`),
    and every message as {"role": "user" | "assistant", "text": ...}."""

    request: Request = field(default_factory=Request)
    pending: list[Action] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)

    def say(self, role: str, text: str, detail: str = "") -> None:
        """Adds one message (`role`: "user" or "assistant"; `text`: Markdown) to the end of the chat; `detail`
        (plain text, e.g. an error's full text) is shown folded under it."""
        self.messages.append({"role": role, "text": text, **({"detail": detail} if detail else {})})

    def answer(self, text: str, names: list[str], image_count: int, criterion: str = "", llm_json: Any = None,
               preview: Callable[[Action], str] | None = None) -> Reply:
        """The assistant's reply to one user message. `names`: the current clusters ([] before a run);
        `preview(action)`: what an action would redo (raises ValueError when it cannot be done)."""
        asked_criterion = bool(self.messages) and self.messages[-1]["text"].endswith(ASK_CRITERION)
        self.say("user", text)
        intent = read_intent(text, names, criterion, llm_json)
        # a bare phrase answering "What should the images be grouped by?", or correcting a reading ("object" after
        # "colour, 4": a newcomer's was not read, and go then ran by colour); "0 groups" is said back, not taken
        # (own categories count as a reading: "animal" after them and a "no" had not been read)
        corrects = (bool(self.request.criterion or self.request.k or self.request.names or self.request.auto_k)
                    and len(text.split()) <= 3 and intent.kind == "unclear")
        plain = ((asked_criterion or corrects) and not names and intent.kind in ("unclear", "request")
                 and not (intent.criterion or intent.k) and not intent.sure and text.strip().lower() not in GREETINGS)
        if plain and (phrase := criterion_phrase(text)):  # a plain answer to the question just asked
            intent = Intent("request", criterion=phrase, preset=phrase.lower() if phrase.lower() in presets() else None)
        waits = " Say **go** to apply what waits, or **no** to drop it." if self.pending else ""
        if intent.kind == "thanks":  # no change asked: what waits still waits
            reply = Reply("You're welcome." + waits)
        elif intent.kind == "start_over":
            if names:
                reply = Reply("To start afresh, press **New run** (these clusters stay under Recent runs)." + waits)
            else:
                self.request = Request()
                reply = Reply(f"OK, starting over: nothing is read yet. {SETUP_HELP}")
        elif is_question(text) and (intent.kind in ("request", "unclear") and not intent.k
                                    or intent.source == "llm" or bool(WHY_K.search(text))):  # "why 4 groups?": no K
            # a question is never a new criterion ("what is the biggest cluster?" had been previewed as one)
            said = answer_question(text, getattr(preview, "results", None)) if names else ""
            # before a run, the reading so far when there is one ("what is K?" after "by colour, 3 groups" had only the guide)
            read = self.request.criterion or self.request.k or self.request.auto_k or self.request.names
            reply = Reply((said or f"{_sentence(CAN_ANSWER)}." if names else
                           "Questions about the clusters are answered once a run has made them. "
                           + (f"My reading so far: {self.request.reading()}." if read else SETUP_HELP)) + waits)
        elif intent.kind == "help":  # the same: nothing changes, the guide of this stage of the chat
            reply = Reply((REFINE_GUIDE if names else SETUP_GUIDE + f"\n\nMy reading so far: {self.request.reading()}.")
                          + waits)
        else:
            reply = self._refine(intent, names, preview, criterion) if names else self._setup(intent, image_count)
        self.say("assistant", reply.text)
        return reply

    def _setup(self, intent: Intent, image_count: int) -> Reply:
        if intent.kind == "go":
            if self.request.missing():
                missing = self.request.missing()  # only the criterion: asked plainly (the example's K fit no categories)
                return Reply(f"Not yet: I still need {' and '.join(missing)}. "
                             + (ASK_CRITERION if missing == ["what to group by"] else SETUP_HELP))
            if image_count < 2:
                return Reply(f"{'Only 1 image is chosen; clustering needs at least 2' if image_count else 'Choose the images first'}"
                             " (a folder, an upload or the sample photos).")
            if self.request.k > image_count:
                return Reply(f"K={self.request.k} is more than the {image_count} images chosen: give a smaller K.")
            start, self.request = self.request, Request()
            return Reply(f"Running: {start.reading()}.", start=start)
        if intent.kind == "unclear":  # the reading so far is said again: a question had left it out of view
            missing = self.request.missing()
            if not missing:
                then = ("; say **go** to run it, or correct me." if image_count >= 2 else  # no "go" it would refuse
                        f". {cannot_run(image_count)}")
                return Reply(f"{_sentence(intent.problem)}. My reading stays: {self.request.reading()}{then}")
            so_far = f" My reading so far: {self.request.reading()}." if len(missing) < 2 else ""
            return Reply(f"{_sentence(intent.problem)}.{so_far} {SETUP_HELP}")
        if intent.kind == "cancel":
            return Reply(f"OK, nothing runs. My reading stays: {self.request.reading()}; correct it, or say **go**.")
        if intent.kind == "undo":
            return Reply("There is nothing to undo yet: no run has finished on these images. An earlier run keeps its "
                         "versions: open it from Recent runs, in the sidebar, to undo there.")
        was = self.request.k
        problem = self._update_request(intent, image_count) or intent.problem  # e.g. "K must be 2 or more, not 0"
        changed = k_change_said(was, self.request.k)
        if not problem and image_count >= 2 and self.request.k > image_count:  # a K kept from before the images
            problem = f"K={self.request.k} is more than the {image_count} images chosen: give a smaller K"
        note = f" ({problem})" if problem else ""
        if missing := self.request.missing():
            ask = ASK_CRITERION if "what to group by" in missing[0] else (
                f"How many groups do you want (K, 2 to {image_count})?" if image_count >= 2 else
                "How many groups do you want (K, 2 or more)? And choose the images on the left.")
            return Reply(f"My reading so far: {self.request.reading()}{note}. {ask}")
        return Reply(f"My reading: {self.request.reading()}{note}.{' ' + changed if changed else ''} "
                     + (cannot_run(image_count) if image_count < 2 else "Say **go** to run it, or correct me."))

    def _update_request(self, intent: Intent, image_count: int) -> str:
        """Fold the intent into the request; returns what was refused, if anything."""
        new = Intent("request")
        for action in ([intent.action] if intent.action else []):
            match action:
                case SetK(k):
                    if k < 2:  # "k=0": K 0 would read as "not given" below
                        return f"K must be 2 or more, not {k}"
                    new.k = k
                case SetCriterion(text, preset):
                    new.criterion, new.preset = text, preset
                case AddInstruction(text):
                    new.instructions.append(text)
                case RemoveInstructions(about):  # before a run: from the reading ("no instructions")
                    self.request.instructions = [t for t in self.request.instructions
                                                 if about.casefold() not in t.casefold()]
                case Remove(cluster) if cluster == OTHER:  # "no other group": from the reading
                    self.request.other = False
                case _:
                    return f"{describe_action(action)} needs clusters; there are none yet"
        criterion, k = intent.criterion or new.criterion, intent.k or new.k
        if too_long := criterion_too_long(criterion):
            return too_long
        refused = ""  # a K refused leaves the rest of the message standing ("by animal type, 10 groups" of 4 images)
        # with fewer than 2 images a K of 2 or more stands (the reply says it cannot run: cannot_run), "1 group" is
        # refused in words (it had been dropped unsaid behind a note on the images)
        if k and (k < 2 or (image_count >= 2 and k > image_count)):
            refused, k = (f"K must be between 2 and the {image_count} images chosen, not {k}" if image_count >= 2
                          else f"K must be 2 or more, not {k}"), 0
        if criterion:
            self.request.criterion, self.request.preset = criterion, intent.preset or new.preset
            # "colour instead" after "by brightness, not colour": "Do not consider colour" would contradict it
            self.request.instructions = [t for t in self.request.instructions if not contradicts(t, criterion)]
        if k:  # a K given now replaces a proposed K or the user's categories, and the "other" that came with them
            if self.request.names:
                self.request.other = False
            self.request.k, self.request.auto_k, self.request.names = k, False, []
        if intent.auto_k or intent.names:  # K proposed, or the user's categories: either replaces a given K
            self.request.k, self.request.auto_k, self.request.names = 0, intent.auto_k, list(intent.names)
        self.request.other = self.request.other or intent.other
        for text in intent.instructions + new.instructions:  # the same reading said again adds it once (a newcomer's
            if not any(same_text(text, given) for given in self.request.instructions):  # three "border"s)
                self.request.instructions.append(text)
        return refused

    def _refine(self, intent: Intent, names: list[str], preview: Callable[[Action], str] | None, criterion: str = "") -> Reply:
        if intent.kind == "go":
            if not self.pending:
                return Reply(f"Nothing is waiting to be applied. {REFINE_HELP}")
            actions, self.pending = self.pending, []
            return Reply("Applying: " + "; then ".join(describe_action(a) for a in actions) + ".", apply=actions)
        if intent.kind == "cancel":
            dropped, self.pending = self.pending, []
            return Reply("Cancelled: " + "; ".join(describe_action(a) for a in dropped) + ". Nothing was changed."
                         if dropped else "OK. Nothing is waiting to be applied.")
        if intent.kind == "undo":  # what waited for go is dropped, and said (a newcomer's "go" found nothing waiting)
            dropped, self.pending = self.pending, []
            target = f"version {intent.version}" if intent.version else "the version before this one"
            note = (" No longer waiting: " + "; ".join(describe_action(a) for a in dropped) + ".") if dropped else ""
            return Reply(f"Going back to {target} (no model is called; it becomes a new version, so nothing is lost)."
                         + note, back_to=intent.version)
        actions = as_actions(intent)
        if not actions:
            # a K the problem names (to "I don't want 3 groups") is not offered among the examples: "3 groups" had been
            said = {int(n) for n in re.findall(r"\d+", intent.problem or "")}
            examples = REFINE_HELP.replace('"3 groups"', f'"{min(set(range(3, 99)) - said)} groups"')
            return Reply(f"{_sentence(intent.problem or 'I could not read that')}. {examples}")
        lines, refused, doable, free = [], [], [], []
        for action in actions:
            try:
                redo = preview(action) if preview else "?"
            except ValueError as exc:  # the rest of the message still stands ("by colour, 50 groups": K refused)
                refused.append(same_k_said(action.k) if isinstance(action, SetK) and "already" in str(exc) else
                               f"{describe_action(action)} cannot be done: {exc}")
                continue
            doable.append(action)
            lines.append(f"- {describe_action(action)}: redoes {redo}")
            # a rename or a merge, or a change whose preview says it redoes nothing (removing empty clusters)
            free.append(calls_no_model(action) or redo.startswith("nothing"))
        if refused and not doable:  # nothing new to wait for: what waited still waits (a newcomer lost it here)
            still = (" Still waiting: " + "; ".join(describe_action(a) for a in self.pending) + "; say **go** to apply it."
                     if self.pending else "")
            return Reply(f"{'' if refused[0].startswith('There') else 'I read: '}{'; '.join(refused)}.{still}")
        note = "\n\nLeft out: " + "; ".join(refused) + "." if refused else ""
        if intent.problem:  # what the reading took or refused beside the change ("2-3 groups": K = 3 taken, said)
            note += f"\n\n{_sentence(intent.problem)}."
        if changed := next((k_change_said(len(names) - (OTHER in names), a.k) for a in doable if isinstance(a, SetK)), ""):
            note += f"\n\n{changed}"  # the K it replaces, said ("other" is no group of the K)
        if dropped := [a for a in self.pending if a not in doable]:  # a new change replaces what waited: said
            note += "\n\nNo longer waiting: " + "; ".join(describe_action(a) for a in dropped) + "."
        actions = doable
        if any(isinstance(a, AddInstruction) and contradicts(a.text, criterion) for a in actions):  # "don't consider
            # colour" on a run grouped by colour had been previewed as any instruction: the model is left nothing to use
            note += (f"\n\nNote: the run is grouped by **{criterion}**, the very thing this leaves out. To group by something "
                     'else, say e.g. "group by the background instead".')
        if any(isinstance(a, ProposeK) for a in actions):  # which K, and why: said now when known, and once done
            note += "\n\n" + (k_choice_said(getattr(preview, "results", None)) or "The K proposed and its reasons are "
                                "said when it is done.")
        if all(free):
            self.pending = []
            # which name a merge keeps is said: "merge Green and Red" had left the red images under Green unsaid
            kept = " (the bigger one's name stays, the first's on a tie)" if any(isinstance(a, Merge) and not a.into for a in actions) else ""
            return Reply("Applying (no model is called): " + "; ".join(describe_action(a) for a in actions) + kept + "."
                         + note, apply=actions)
        self.pending = actions
        return Reply("I read:\n" + "\n".join(lines) + note + "\n\nSay **go** to apply, or correct me.")


def contradicts(instruction: str, criterion: str) -> bool:
    """Whether `instruction` tells the model to leave out what `criterion` groups by ("Do not consider colour"
    beside the criterion "colour"; case aside)."""
    leave_out = re.match(r"\s*(?:do not|don'?t|never|without|ignore|ignoring|disregard)\b(?:\s+consider)?\s+(.+?)[.!]?\s*$",
                         instruction, re.I)
    return leave_out is not None and leave_out[1].casefold().strip() == criterion.casefold().strip()


def _sentence(text: str) -> str:
    """`text` with its first letter upper-case and the rest as it was (str.capitalize lower-cased the cluster
    names a message lists: "(blue, green, warm)" for Blue, Green, Warm)."""
    return text[:1].upper() + text[1:]
