"""Progress bars for a run at the terminal, fed by the graph's custom stream events."""

from __future__ import annotations

from typing import Any

STEP_TITLES = {"describe": "Step 1 describe", "label": "Step 2a label", "name_clusters": "Step 2b names",
               "assign": "Step 3 assign", "finish": "Finishing"}
IMAGE_STEPS = frozenset({"describe", "label", "assign"})  # counted in images; the rest in phases or calls
PLAIN_BAR = "{desc}: {n_fmt}/{total_fmt} [{elapsed}]{postfix}"  # no rate: "2.5 it/s" of phases means nothing


class Progress:
    """One tqdm bar per step. Call it with each event (a dict with "step" and "total"/"done" or "advance");
    a "plan" event prints what a refinement will redo. close() ends every bar."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bars: dict[str, Any] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        step = event.get("step", "")
        if step == "plan":
            print(f"Will redo: {event['redo']}")
            return
        if step not in self.bars:  # steps run one after another: finish the previous bar first
            self.close()
        if "total" in event and step not in self.bars:
            self.bars[step] = self._bar(step, event["total"], event.get("done", 0))
        elif "advance" in event:
            if step not in self.bars:
                self.bars[step] = self._bar(step, event["advance"], 0)
            self.bars[step].update(event["advance"])
            if event.get("names"):
                self.bars[step].set_postfix_str(", ".join(event["names"])[:80])

    def _bar(self, step: str, total: int, done: int) -> Any:
        """A bar for `step`: images with their rate (img/s) for the per-image steps, a plain count otherwise."""
        shape = {"unit": " img", "unit_scale": False} if step in IMAGE_STEPS else {"bar_format": PLAIN_BAR}
        return self._tqdm(total=total, initial=done, desc=STEP_TITLES.get(step, step), leave=True, **shape)

    def close(self) -> None:
        """Finish every bar (their last state stays on screen)."""
        for bar in self.bars.values():
            bar.close()
