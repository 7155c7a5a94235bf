"""What the chat says to guide: the question for a criterion, the short help said after a message not understood,
the whole guides "help" lists (before a run, after one, during a job), the answer to a K the run has and the sentence of a K that replaces another."""

from __future__ import annotations

ASK_CRITERION = "What should the images be grouped by?"
SETUP_HELP = ('Tell me what to group the images by and how many groups, e.g. "group by the mood of the person, 4 groups" '
              '("help" lists more).')
REFINE_HELP = ('You can say, e.g.: "don\'t consider gender", "merge Happy and Joyful", "merge the first two", '
               '"split Sad in two", "3 groups", "fewer groups", "focus on the background instead", "rename 2 to Calm", '
               '"remove Sad", "undo", "go back to version 1" ("help" lists them all).')
# the whole list, for "help" (the two lines above are the short form said after a message not understood); while a
# job runs, JOB_HELP and the refine guide
SETUP_GUIDE = ("Before a run, tell me:\n"
               '- what to group by and how many groups: "group by the mood of the person, 4 groups", "colour; 4", '
               '"4 colour groups";\n'
               '- or let me propose K: "how many groups would you suggest?";\n'
               '- or your own categories: "sort them into indoor, outdoor and vehicle" (add "put the rest in other");\n'
               '- what to leave out: "don\'t consider gender", "group by colour, not brightness".\n\n'
               "I say back my reading; correct it (\"make it 5 instead\", \"no\") and say **go** to run it. "
               "Choose the images on the left first.")
REFINE_GUIDE = ("To change the clusters:\n"
                '- names, no model call: "rename 2 to Calm", "call the yellow ones Sunny", "merge Happy and Joyful", '
                '"put Purple into Red", "drop the empty groups", "undo", "go back to version 1";\n'
                '- with model calls (previewed, then **go**): "split Sad in two", "3 groups", "one more group", '
                '"focus on the background instead", "don\'t consider gender", "for step 3 only: ignore the border", '
                '"remove the instruction about gender", "remove cluster Misc", "put the rest in other", '
                '"group them into 2 broader groups", "how many groups would you suggest?".\n\n'
                "Say **no** to drop what waits. The tabs show the clusters, metrics, traces and versions. More "
                "images: choose them on the left; a new run starts on them (this one stays under Recent runs).")
JOB_HELP = "A job is running: wait for it, or press **Stop** (finished work is kept). Once it is done:\n\n"


def same_k_said(k: int) -> str:
    """The answer to "use K=`k`" when the run has `k` groups already (a merge may have left them: "K is already 2:
    nothing to redo" read badly to a newcomer who wanted a fresh grouping), with the ways to one."""
    return (f"There are already {k} groups. For a fresh grouping into {k} (new names from Step 2b, every image sorted "
            f'again by Step 3): if a merge left these {k}, **undo** it, then say "{k} groups"; '
            f"or press **New run** (sidebar) and run the criterion again with {k} groups")


def k_change_said(was: int, now: int) -> str:
    """The sentence that says a K given in words replaces another ("K was 2; now 3."), or "" when there was none or
    it is the same: "actually 3 groups" at K=2 had been said back as K=3 alone, the 2 it replaced unsaid."""
    return f"K was {was}; now {now}." if was and now and was != now else ""


def cannot_run(image_count: int) -> str:
    """What a reading complete but for the images says in place of "Say go to run it" (`image_count`: 0 or 1 images
    chosen): a newcomer was told "Say go to run it", and only the go then asked for the images."""
    if not image_count:
        return ("It cannot run yet: choose the images first, on the left (the sample photos, a folder on the server "
                "or an upload), then say **go**.")
    return ("It cannot run yet: only 1 image is chosen, and clustering needs at least 2. Choose more on the left (the "
            "sample photos, a folder on the server or an upload), then say **go**.")
