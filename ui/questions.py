"""Questions typed in the chat ("what is the biggest cluster?", "why is solid_yellow in Green?", "what did you do?"),
answered from the run's results.json without a model; a question no rule answers is said to be none of the changes
the chat makes, never read as a new criterion (a newcomer's "what is the biggest cluster?" was previewed as the
criterion 'biggest cluster', redoing every step)."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

QUESTION = re.compile(r"^(?:what(?:'s|\s+(?:is|are|was|were|did|does|do|have|has|happened))|which|why|how\s+(?:many|much|"
                      r"big|large|small|come|did|was|were|is|are)|where|who|is|are|did|was|were|does|do you)\b", re.I)
NOT_A_QUESTION = re.compile(r"^(?:what|how) about\b|\b(?:suggest|recommend|propose)\b|\bbiased\b|\baudit\b", re.I)
CAN_ANSWER = ("I can answer questions about these clusters (their sizes, the biggest or smallest, which cluster an image "
              "is in and Step 3's answer for it, what the last change did) and change them (\"help\" lists the changes)")
SIZES = re.compile(r"\bhow (?:many|big|large)\b.*\b(?:each|every|per|all|the)\s+(?:groups?|clusters?|categories)\b|"
                   r"\bhow many (?:groups|clusters|categories)(?: (?:are|is) there| do (?:i|we) have)?\s*\??$|"
                   r"\b(?:cluster|group) sizes?\b|\bsizes? of\b|\bhow many (?:images|photos|pictures|files) (?:are )?(?:in|per)\b",
                   re.I)
# "what are the clusters called?", "is the red group too big?": the names and sizes (a second newcomer's had got the
# list of what the chat answers)
NAMES_ASKED = re.compile(r"\bwhat (?:are|is) (?:the |their )?(?:clusters?|groups?|categories) (?:called|named)\b|"
                         r"\b(?:cluster|group) names\b|\bnames? of the (?:clusters|groups|categories)\b", re.I)
SIZE_WORD = re.compile(r"\bhow (?:many|big)\b|\b(?:too )?(?:big|small|large)\b", re.I)
EXTREME = re.compile(r"\b(biggest|largest|most|smallest|fewest|least)\b", re.I)
WHY_K = re.compile(r"\bwhy\b.*\b(?:k|\d+ (?:groups|clusters))\b|\bhow (?:was|is|did you (?:choose|pick))\b.*\bk\b", re.I)
LAST_CHANGE = re.compile(r"\bwhat (?:did you (?:do|change)|have you (?:done|changed)|happened|changed|was (?:the )?last|"
                         r"did (?:the|that|my) (?:last )?change do)\b|\blast change\b|\bhistory\b", re.I)


def is_question(text: str) -> bool:
    """Whether `text` asks something about the run ("what is ...?", "why is ...", "how many images ..."), not a
    change put as a question ("what about colour?", "can you merge 1 and 2?") or a request for K or an audit."""
    text = text.strip()
    return bool(QUESTION.match(text)) and not NOT_A_QUESTION.search(text)


def answer_question(text: str, results: dict[str, Any] | None) -> str:
    """The answer to `text` from `results` (results.json: "clusters" [{"name", "size"}], "images" rows with "image",
    "cluster", "route", "answer", "history"), in Markdown; "" when no rule answers it (or there are no results)."""
    if not results:
        return ""
    clusters = [c for c in results.get("clusters", []) if c.get("name")]
    clustered = sum(c["size"] for c in clusters)
    named = [c for c in clusters if re.search(rf"(?<!\w){re.escape(c['name'])}(?!\w)", text, re.I)]
    if row := _image_asked(text, results.get("images", [])):
        return _image_said(row, named)
    if missing := _file_named(text):  # had the generic "I can answer questions about ...", as if not understood
        return (f"No image named {missing} in this run ({len(results.get('images', []))} image(s); the Clusters tab "
                "lists their names).")
    if WHY_K.search(text):  # the proposal, unless the user set K since (it had been said as the reason for their K)
        return (k_choice_said(results) if not _k_set_since_proposed(results) else "") or k_given_said(results)
    if LAST_CHANGE.search(text):
        history = results.get("history", [])
        earlier = "; ".join(f"v{i} {h}" for i, h in enumerate(history[:-1], 1))
        return (f"The last change made version {len(history)}: {history[-1] if history else 'the first run'}."
                + (f" Before it: {earlier}." if earlier else "") + " The Versions tab compares any two.")
    if clusters and (m := EXTREME.search(text)):
        big = m[1].lower() in ("biggest", "largest", "most")
        size = (max if big else min)(c["size"] for c in clusters)
        tied = [c["name"] for c in clusters if c["size"] == size]
        which = "biggest" if big else "smallest"
        return (f"The {which} cluster{' is' if len(tied) == 1 else 's are'} {', '.join(repr(n) for n in tied)}, with "
                f"{size} of the {clustered} clustered images.")
    if clusters and (SIZES.search(text) or NAMES_ASKED.search(text) or (named and SIZE_WORD.search(text))):
        shown = named or clusters
        return (f"{len(clusters)} clusters, {clustered} images clustered: "
                + ", ".join(f"{c['name']!r} {c['size']}" for c in shown) + ".")
    return ""


def _image_asked(text: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row of the image `text` names by its file name, with or without extension ("solid_yellow"); None if none."""
    words = {w.casefold() for w in re.findall(r"[\w.\-]+", text)}
    for row in rows:
        path = PurePath(str(row.get("image", "")))
        if path.name.casefold() in words or (len(path.stem) > 2 and path.stem.casefold() in words):
            return row
    return None


def _file_named(text: str) -> str:
    """The first word of `text` that is an image file's name ("nonexistent.png": a suffix Pillow decodes), or ""."""
    from ictc.core.images import image_suffixes

    return next((w for w in re.findall(r"[\w\-][\w.\-]*\.\w+", text) if PurePath(w).suffix.lower() in image_suffixes()), "")


def _image_said(row: dict[str, Any], named: list[dict[str, Any]]) -> str:
    """Where the image of `row` is and how Step 3 put it there; `named`: the clusters the question names."""
    from ictc.ui.views import (  # the image view's words (views draws with streamlit: imported when asked)
        NO_CALL,
        ROUTES,
    )

    image, cluster = PurePath(str(row["image"])).name, row.get("cluster") or ""
    if not cluster:
        return f"{image} is in no cluster ({row.get('status') or 'not clustered'}); its Details say why."
    other = next((c["name"] for c in named if c["name"] != cluster), "")
    answer = f"Step 3's answer {row['answer']!r}" if row.get("answer") else "Step 3 put it there"
    route = f" (route: {row['route']})" if row.get("route") else ""
    if row.get("route") == "kind" and row.get("raw_label"):  # no model answered: its label joined its kind (label_kinds)
        # had read "Step 3's answer 'horse'" for an image labelled "pony"
        answer = (f"its label {row['raw_label']!r} is a kind of {row.get('answer') or cluster!r} by WordNet, so it went "
                  "there with no model call")
    elif row.get("route") in NO_CALL:  # label, join, look, group: no model answered either
        # had read "Step 3's answer 'blue' (route: label)" for an image its label placed, no model asked
        answer = f"it went there by {ROUTES[row['route']].removesuffix(': no model call')}, with no model call"
    if str(row.get("route", "")).endswith("+embedding") and str(row.get("answer", cluster)).casefold() != \
            cluster.casefold():  # an answer naming another cluster
        # had read as a contradiction: the prior (README "embedding prior") is what moved it
        answer = (f"the model's calibrated answer was {row['answer']!r}, and the embedding prior (how near its raw "
                  "label is to each name) moved it here")
    return (f"{image} is in {cluster!r}{f', not {other!r}' if other else ''}: {answer}{route}. Its description, raw "
            "label and traces are under Details (Clusters tab, its name).")


def k_choice_said(results: dict[str, Any] | None) -> str:
    """Which K was proposed from the labels and why (results.json "k_choice": the candidates with their reasons and
    silhouettes, and the one chosen), in one paragraph; "" when K was not proposed. A newcomer's "how many groups would
    you suggest?" had ended in 2 clusters with no word on which K was suggested or why."""
    choice = (results or {}).get("k_choice") or {}
    candidates = (choice.get("proposal") or {}).get("candidates") or []
    if not candidates:
        return ""

    def said(candidate: dict[str, Any]) -> str:
        score = f", silhouette {candidate['silhouette']:.2f}" if candidate.get("silhouette") is not None else ""
        return f"K={candidate['k']} ({'; '.join(candidate.get('reasons') or []) or 'next best silhouette'}{score})"

    chosen = choice.get("chosen", candidates[0]["k"])
    best = next((c for c in candidates if c["k"] == chosen), candidates[0])
    others = [said(c) for c in candidates if c is not best]
    return (f"K proposed from the labels: {said(best)}{', taken' if choice.get('by') == 'best' else ''}."
            + (f" Other candidates: {'; '.join(others)}; say e.g. \"use {candidates[-1]['k']} groups\" for one." if others else ""))


K_SET = ("use K=", "sort into")  # results.json "history" entries that set K: a K or the user's own categories


def _k_set_since_proposed(results: dict[str, Any]) -> bool:
    """Whether a version after the last "propose K" (else after the first run) set K itself (K_SET)."""
    history = results.get("history", [])
    proposed = max((i for i, entry in enumerate(history) if entry == "propose K"), default=0)
    return any(entry.startswith(K_SET) for entry in history[proposed + 1:])


def k_given_said(results: dict[str, Any]) -> str:
    """Why the run has the clusters it has when no K was proposed or the user set K since (results.json "history": one
    entry per version, "use K=4", "split 'Red' into 2", "merge 'a' and 'b'"): the version that set K, and the splits,
    merges and removals since. A newcomer's "why 4 groups?" had been read as asking for 4 groups."""
    history = results.get("history", [])
    count = sum(1 for c in results.get("clusters", []) if c.get("name"))
    last = max((i for i, entry in enumerate(history) if entry.startswith(K_SET)), default=None)
    since = [entry for entry in history[(last or 0) + 1:] if entry.startswith(("split ", "merge ", "remove "))]
    source = f"version {last + 1} set K ({history[last]})" if last is not None else "K is the one the run started with"
    proposed = "K was proposed from the labels before, then" if results.get("k_choice") else "no K was proposed from the labels;"
    return (f"There are {count} clusters: {proposed} {source}"
            + (f", and since then: {'; '.join(since)}" if since else "") + f". Say e.g. \"{count + 1} groups\" to change "
            "it.")  # not a fixed "3 groups": with 3 clusters that was the K the run has
