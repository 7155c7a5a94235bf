"""WordNet 3.0's noun hierarchy (Princeton University; models/data/WORDNET-LICENSE), shipped as a compact table
(models/data/wordnet-3.0-nouns.tsv.xz, built by scripts/wordnet_table.py): the Taxonomy that label_kinds reads
(nodes/label_kinds.py). No download, no system package: the table is part of ictc."""

from __future__ import annotations

import functools
import lzma
from pathlib import Path
from typing import Protocol

TABLE = Path(__file__).resolve().parent / "data" / "wordnet-3.0-nouns.tsv.xz"


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

    Senses are ids (str) of the table's synsets. The table is read on first use, once per process (about 0.3 s here),
    and shared by every instance."""

    name = "wordnet-3.0"

    def __init__(self, table: Path = TABLE):
        self._table = table

    @property
    def _data(self) -> tuple[list[tuple[str, tuple[int, ...]]], dict[str, int], dict[str, str]]:
        return _load(self._table)

    def sense(self, lemma: str) -> str | None:
        """The id of the first (most frequent) noun sense of `lemma` (words spaced or joined by "_", any case;
        an irregular plural is read as its base form, "geese" as goose), None when WordNet has no such noun."""
        _, senses, plurals = self._data
        key = "_".join(lemma.lower().split())
        found = senses.get(key)
        if found is None and key in plurals:
            found = senses.get(plurals[key])
        return None if found is None else str(found)

    def head(self, sense: str) -> str:
        """The first lemma of `sense`, words spaced ("frog" for the synset of frog, toad, anuran, ...)."""
        return self._data[0][int(sense)][0].replace("_", " ")

    def ancestors(self, sense: str) -> dict[str, int]:
        """Every sense above `sense` -> its fewest hops from it (`sense` itself at 0), breadth first over the
        hypernym links (a synset may have several: WordNet's hierarchy is a lattice)."""
        synsets = self._data[0]
        hops = {int(sense): 0}
        frontier = [int(sense)]
        while frontier:
            nxt = []
            for node in frontier:
                for up in synsets[node][1]:
                    if up not in hops:
                        hops[up] = hops[node] + 1
                        nxt.append(up)
            frontier = nxt
        return {str(node): n for node, n in hops.items()}


@functools.cache
def _load(table: Path) -> tuple[list[tuple[str, tuple[int, ...]]], dict[str, int], dict[str, str]]:
    """The table's three sections (scripts/wordnet_table.py): [(first lemma, hypernym ids)] by synset id,
    {lemma: first sense id}, {irregular plural: base form}. Raises OSError when the table cannot be read."""
    sections: list[list[list[str]]] = [[]]
    for line in lzma.decompress(table.read_bytes()).decode().splitlines():
        if line.startswith("#"):
            continue
        if not line:
            sections.append([])
            continue
        sections[-1].append(line.split("\t"))
    synsets = [(row[0], tuple(int(x) for x in row[1].split(",") if x)) for row in sections[0]]
    return synsets, {row[0]: int(row[1]) for row in sections[1]}, {row[0]: row[1] for row in sections[2]}
