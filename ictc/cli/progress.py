"""Progress bars for a run at the terminal, fed by the graph's custom stream events."""

from __future__ import annotations

from typing import Any

STEP_TITLES = {"describe": "Step 1 describe", "label": "Step 2a label", "name_clusters": "Step 2b names",
               "assign": "Step 3 assign", "finish": "Finishing"}


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
            self.bars[step] = self._tqdm(total=event["total"], initial=event.get("done", 0),
                                         desc=STEP_TITLES.get(step, step), unit="img", leave=True)
        elif "advance" in event:
            if step not in self.bars:
                self.bars[step] = self._tqdm(total=event["advance"], desc=STEP_TITLES.get(step, step), leave=True)
            self.bars[step].update(event["advance"])
            if event.get("names"):
                self.bars[step].set_postfix_str(", ".join(event["names"])[:80])

    def close(self) -> None:
        """Finish every bar (their last state stays on screen)."""
        for bar in self.bars.values():
            bar.close()
