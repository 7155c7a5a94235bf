"""The plans of the actions that change the instructions: one added to a step's prompt, some taken out. Each
redoes the earliest step whose prompt changes and the steps after it (see nodes/actions.py)."""

from __future__ import annotations

from ictc.core.errors import UsageError
from ictc.nodes.actions import AddInstruction, Plan, RemoveInstructions, reset_fields, same_text
from ictc.prompts import ALL_STEPS, STEPS, Criterion, step_name


def plan_instructions(criterion: Criterion, action: AddInstruction | RemoveInstructions, images: str,
                      clusterable: str) -> Plan:
    """The plan for AddInstruction or RemoveInstructions on a run whose criterion is `criterion`, that has `images`
    (in words, "22 images") of which `clusterable` can be clustered ("21 images (1 failed image left out)": the
    failed ones are retried only when Step 1 is redone); no model is called here. Raises UsageError for an unknown step, an instruction the step
    already has (said again after going back to a version that had it, it was in the prompts twice), or one to
    take out that no instruction mentions, or an empty instruction."""
    match action:
        case AddInstruction(text, step):
            step = step_name(step)
            if not text.strip():  # a blank one had made a version, and Step 3 asked again, for nothing
                raise UsageError("the instruction is empty: say what the model should do, e.g. 'Do not consider gender.'")
            for scope in dict.fromkeys((step, ALL_STEPS)):  # one given for every step is in this step's prompt too
                if any(same_text(text, given) for given in criterion.instructions.get(scope, ())):
                    raise UsageError(f"the instruction {text!r} is already given for "
                                     f"{'every step' if scope == ALL_STEPS else scope}")
            return _redo_from(step, criterion.with_instruction(text, step), images, clusterable)
        case RemoveInstructions(about):
            given = [(step, text) for step, texts in criterion.instructions.items() for text in texts]
            gone = [(step, text) for step, text in given if about.casefold().strip() in text.casefold()]
            if not gone:
                listed = "; ".join(repr(text) for _, text in given)
                raise UsageError(f"no instruction mentions {about!r} (the instructions: {listed})" if given and about
                                 else "there are no instructions to remove")
            left = {step: tuple(t for t in texts if (step, t) not in gone) for step, texts in criterion.instructions.items()}
            earliest = min((s for s, _ in gone), key=lambda s: -1 if s == ALL_STEPS else STEPS.index(s))
            return _redo_from(earliest, Criterion(criterion.text, criterion.preset, {s: t for s, t in left.items() if t}),
                              images, clusterable)
    raise UsageError(f"{action} is not an instruction change")


def _redo_from(step: str, criterion: Criterion, images: str, clusterable: str) -> Plan:
    """The plan of a change of `step`'s instructions (a step name, or ALL_STEPS): the run's criterion becomes
    `criterion`, and that step and the ones after it run again (on `images`, or on the `clusterable` ones when
    Step 1 is not redone), in words as plan_instructions takes them."""
    updated = {"criterion": criterion.to_dict(), "scope": {}}
    if step in ("describe", ALL_STEPS):
        return Plan({**updated, **reset_fields("descriptions", "labels", "assignments", "failures")}, "start",
                    f"every step on {images}")
    if step == "label":
        return Plan({**updated, **reset_fields("labels", "assignments")}, "descriptions_done",
                    f"Step 2a on {clusterable}, then 2b and 3 where their inputs change")
    if step == "name_clusters":
        return Plan({**updated, **reset_fields("assignments")}, "name_clusters", "Step 2b, then Step 3 where names change")
    return Plan({**updated, **reset_fields("assignments")}, "assign_dispatch", f"only Step 3, on {clusterable}")
