"""WordNet 3.0's noun hierarchy (Princeton University; models/data/WORDNET-LICENSE), shipped as a compact table
(models/data/wordnet-3.0-nouns.tsv.xz, built by scripts/wordnet_table.py): the Taxonomy that label_kinds reads
(nodes/label_kinds.py). No download, no system package: the table is part of ictc."""

from __future__ import annotations

import functools
import lzma
from array import array
from pathlib import Path
from typing import NamedTuple, Protocol

TABLE = Path(__file__).resolve().parent / "data" / "wordnet-3.0-nouns.tsv.xz"
# WordNet's morphy rules for nouns (morph.c): a regular plural's suffix -> its base form's ending. noun.exc lists only
# the irregular ones, so "women" and "policemen" ("men" -> "man"), which the labels' own singular rule
# (nodes/label_counts.normalize_label) leaves as they are, had been no noun
DETACHMENTS = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
               ("ies", "y"))


class Taxonomy(Protocol):
    """What label_kinds needs from a noun hierarchy (nodes/label_kinds.py; WordNetNouns below).

    name: identifies the data (recorded per run)."""

    name: str

    def sense(self, lemma: str) -> str | None:
        """The id of the most frequent noun sense of `lemma` (a normalized label, words spaced), None when the
        whole of it is no noun of the hierarchy."""
        ...

    def head(self, sense: str) -> str:
        """The first lemma of `sense` (its head word: "frog" for the sense whose lemmas are frog, toad, ...)."""
        ...

    def ancestors(self, sense: str) -> dict[str, int]:
        """Every sense above `sense` (hypernyms, instance hypernyms, transitively) -> its fewest hops from it,
        `sense` itself at 0."""
        ...


class WordNetNouns:
    """WordNet 3.0's nouns: each lemma's first sense and each sense's hypernyms (instance hypernyms included).

    Senses are ids (str) of the table's synsets. The table is read on first use, once per process, and kept as
    its text (3.6 MB; a lemma is found by a search of it, a synset by its line), shared by every instance:
    about 0.1 s here, and no per-entry objects (a dict of its 117,798 lemmas had cost about 80 MB)."""

    name = "wordnet-3.0"

    def __init__(self, table: Path = TABLE):
        self._table = table

    def sense(self, lemma: str) -> str | None:
        """The id of the first (most frequent) noun sense of `lemma` (words spaced or joined by "_", any case;
        a plural is read as its base form: "geese" as goose by WordNet's list of irregular plurals, "women" as woman by
        its rules for the regular ones), None when WordNet has no such noun."""
        data = _load(self._table)
        key = "_".join(lemma.lower().split())
        if not key or "\n" in key or "\t" in key:
            return None
        found = _value(data.lemmas, key)
        if found is None and (base := _value(data.plurals, key)) is not None:
            found = _value(data.lemmas, base)
        for suffix, ending in () if found is not None else DETACHMENTS:  # a regular plural, as WordNet's morphy
            if key.endswith(suffix) and len(key) > len(suffix):
                found = _value(data.lemmas, key[:-len(suffix)] + ending)
                if found is not None:
                    break
        return found

    def head(self, sense: str) -> str:
        """The first lemma of `sense`, words spaced ("frog" for the synset of frog, toad, anuran, ...)."""
        return _synset(_load(self._table), int(sense))[0].replace("_", " ")

    def ancestors(self, sense: str) -> dict[str, int]:
        """Every sense above `sense` -> its fewest hops from it (`sense` itself at 0), breadth first over the
        hypernym links (a synset may have several: WordNet's hierarchy is a lattice)."""
        data = _load(self._table)
        hops = {int(sense): 0}
        frontier = [int(sense)]
        while frontier:
            nxt = []
            for node in frontier:
                for up in _synset(data, node)[1]:
                    if up not in hops:
                        hops[up] = hops[node] + 1
                        nxt.append(up)
            frontier = nxt
        return {str(node): n for node, n in hops.items()}


class _Table(NamedTuple):
    """The table's three sections as text (scripts/wordnet_table.py), each line ending in a newline: synsets
    (line i: synset i), lemmas and plurals (each after a leading newline, so every line is found as "\n<key>\t");
    starts: where each synset line begins, then the section's end."""

    synsets: str
    starts: array[int]
    lemmas: str
    plurals: str


def _value(section: str, key: str) -> str | None:
    """The value on the line of `section` whose key is `key` ("\n<key>\t<value>\n"), None when none is."""
    at = section.find(f"\n{key}\t")
    if at < 0:
        return None
    start = at + len(key) + 2
    return section[start:section.index("\n", start)]


def _synset(data: _Table, node: int) -> tuple[str, list[int]]:
    """Synset `node`'s first lemma and hypernym ids, read from its line."""
    lemma, _, up = data.synsets[data.starts[node]:data.starts[node + 1] - 1].partition("\t")
    return lemma, [int(x) for x in up.split(",") if x]


@functools.cache
def _load(table: Path) -> _Table:
    """The table at `table`, its sections split (scripts/wordnet_table.py). Raises OSError when it cannot be read,
    ValueError when it is not such a table."""
    text = lzma.decompress(table.read_bytes()).decode()
    start = 0
    while text.startswith("#", start):  # the header
        start = text.index("\n", start) + 1
    synsets_end = text.index("\n\n", start) + 1
    lemmas_end = text.index("\n\n", synsets_end) + 1
    synsets = text[start:synsets_end]
    starts = array("i", [0])
    at = synsets.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = synsets.find("\n", at + 1)
    return _Table(synsets, starts, "\n" + text[synsets_end + 1:lemmas_end], "\n" + text[lemmas_end + 1:])
