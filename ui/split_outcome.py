"""What the chat says of a split once done (ui/outcomes.py): its parts, their names and the images each got."""

from __future__ import annotations

from typing import Any

from ictc.nodes.label_counts import normalize_label


def split_said(split: dict[str, Any], sizes: dict[str, int]) -> str:
    """A split's outcome from results.json naming.split: the parts with their sizes, the names Step 2b
    proposed that were replaced (already taken or missing), and parts that got no image; every image in one part is
    said as the one group the split found (a newcomer read "Blue (6), Azure 1 (0)", an empty cluster listed as a part)."""
    parts, dropped = split["parts"], split.get("dropped", [])
    if len(parts) == 1 and dropped:  # split_done (nodes/name_split.py) gave the one group the cluster's name back
        return (f"Split **{split['cluster']}** found only one group: its {sizes.get(parts[0], 0)} images stay in "
                f"{parts[0]} ({', '.join(dropped)} got none), so the clusters are as they were and no new version was "
                "made. Try another change (an instruction, or more groups).")
    empty = [p for p in parts if not sizes.get(p)]
    if filled := [p for p in parts if sizes.get(p)] if len(empty) == len(parts) - 1 else []:  # runs made before split_done
        return (f"Split **{split['cluster']}** found only one group: its {sizes[filled[0]]} images are all in "
                f"{filled[0]}, and {', '.join(empty)} got none. Say \"drop the empty groups\" (no model call) to remove "
                f"{'it' if len(empty) == 1 else 'them'}, or **undo**.")
    text = f"Split **{split['cluster']}** into {len(parts)}: " + ", ".join(f"{p} ({sizes.get(p, 0)})" for p in parts) + "."
    # a part may keep the cluster's spelling: compared as labels are (case, plural), as split_parts keeps it ("Red"
    # proposed for the user's "Reds" had been said to have got a numbered name, which no part had)
    proposed = {normalize_label(name) for name in split.get("proposed", [])}
    # the name Step 3 was asked for each part: Step 2b's, where the part is the user's name (nodes/name_split.py)
    step2b = {part: name for name, part in split.get("asked", {}).items()}
    replaced = [p for p in parts if normalize_label(step2b.get(p, p)) not in proposed]
    if under := [p for p in parts if step2b.get(p, p) != p]:  # the user's name for the cluster, kept
        text += (f" The part Step 2b called {step2b[under[0]]} keeps your name {under[0]}." if under == [split["cluster"]]
                 else f" Step 2b's names ({', '.join(step2b[p] for p in under)}) are put under your name "
                      f"{split['cluster']}.")
    if replaced:
        text += (f" Step 2b proposed {', '.join(split.get('proposed', [])) or 'no usable names'}; as those were "
                 f"taken by other clusters or too few, the part(s) {', '.join(replaced)} got numbered names "
                 "(rename them if you like).")
    if dropped:
        text += f" No image chose {', '.join(dropped)}: not kept as a cluster."
    if empty:
        text += f" No image chose {', '.join(empty)}: Step 3 put every image elsewhere; try **undo** and another split."
    return text
