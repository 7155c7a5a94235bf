"""Progress bars for a run at the terminal, fed by the graph's custom stream events."""

from __future__ import annotations

import sys
from typing import Any

STEP_TITLES = {"describe": "Step 1 describe", "label": "Step 2a label", "name_clusters": "Step 2b names",
               "assign": "Step 3 assign", "finish": "Finishing"}
IMAGE_STEPS = frozenset({"describe", "label", "assign"})  # counted in images; the rest in phases or calls
PLAIN_BAR = "{desc}: {n_fmt}/{total_fmt} [{elapsed}]{postfix}"  # no rate: "2.5 it/s" of phases means nothing


class Progress:
    """One tqdm bar per step, one step at a time. Call it with each event (a dict with "step" and "total"/"done"
    or "advance"); a "plan" event prints what a refinement will redo, and one with "no_call" (Step 2b's names from
    the labels or the user's) a line saying how they were made without a model call. close() ends every bar.

    A step's totals are kept when they come while another step's bar is unfinished, and its bar opens with them
    when its own work is reported: a resume reports every step's totals at once, and the steps overlap (Step 2a
    labels as Step 1 describes), which had left "Step 1 describe 15/60" standing while 45 images were described
    and Step 2a counting past its total of 15.

    `first`: a line printed with the first event, once the run has started (its request checked): the labels file
    found beside the images had been said above a refusal of the request (K above the images, a used --out)."""

    def __init__(self, first: str = "") -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.first = first
        self.bars: dict[str, Any] = {}
        self.counts: dict[str, list[int | None]] = {}  # step -> [total or None, done so far]
        self.no_call: dict[str, str] = {}  # step -> how its result came without a model call (its line printed)

    def __call__(self, event: dict[str, Any]) -> None:
        if self.first:
            print(self.first, flush=True)
            self.first = ""
        step = event.get("step", "")
        if step == "plan":
            print(f"Will redo: {event['redo']}")
            return
        if event.get("no_call") or (step in self.no_call and not event.get("advance") and event.get("names")):
            # names made without a model call: a line, not a "1/1" bar that reads as one call (said again with the
            # user's renames carried over, as the bar's names are)
            self.close()
            self.no_call[step] = event.get("no_call") or self.no_call[step]
            names = f": {', '.join(event['names'])[:80]}" if event.get("names") else ""
            print(f"{STEP_TITLES.get(step, step)}: {self.no_call[step]}, no model call{names}", file=sys.stderr, flush=True)
            return
        count = self.counts.setdefault(step, [None, 0])
        if "total" in event:
            count[:] = [event["total"], event.get("done", 0)]
            if step in self.bars or any(bar.total is not None and bar.n < bar.total for bar in self.bars.values()):
                return  # shown when this step's work is reported, once the step on screen is done
            self.close()
            self.bars[step] = self._bar(step, event["total"], event.get("done", 0))
        elif "advance" in event:
            if step not in self.bars:  # steps run one after another: finish the previous bar first
                self.close()
                total = count[0] if count[0] is not None else event["advance"]
                self.bars[step] = self._bar(step, total, min(int(count[1] or 0), total))
            count[1] = int(count[1] or 0) + event["advance"]
            self.bars[step].update(event["advance"])
            if event.get("names"):
                self.bars[step].set_postfix_str(", ".join(event["names"])[:80])

    def _bar(self, step: str, total: int, done: int) -> Any:
        """A bar for `step`: images with their rate (img/s) for the per-image steps, a plain count otherwise."""
        shape = {"unit": " img", "unit_scale": False} if step in IMAGE_STEPS else {"bar_format": PLAIN_BAR}
        return self._tqdm(total=total, initial=done, desc=STEP_TITLES.get(step, step), leave=True, **shape)

    def close(self) -> None:
        """Finish every bar (their last state stays on screen); a step reported again gets a new bar."""
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def typed_line(prompt: str) -> str | None:
    """The line typed after `prompt` at the terminal, or None when nothing can be read: end of input (a pipe, a
    test) or no standard input at all (`ictc run ... <&-`, a service), where input() raises RuntimeError "lost
    sys.stdin" and the -k auto pick had ended a run as an internal error."""
    if sys.stdin is None or sys.stdin.closed:
        return None
    try:
        return input(prompt)
    except (EOFError, OSError):
        return None
