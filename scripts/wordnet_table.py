"""Build models/data/wordnet-3.0-nouns.tsv.xz, the noun hierarchy that label_kinds reads (models/wordnet.py),
from Princeton WordNet 3.0's database files as Debian's wordnet-base installs them.

    apt-get install wordnet-base
    python scripts/wordnet_table.py [/usr/share/wordnet]

The table (UTF-8 text, xz-compressed), three sections after a header of "#" lines, each section ended by an
empty line:
1. one line per noun synset, in data.noun's order (its line number, from 0, is the synset's id):
   "<first lemma>\t<ids of its hypernyms and instance hypernyms, comma-separated>";
2. one line per noun lemma of index.noun: "<lemma>\t<id of its first (most frequent) sense>";
3. noun.exc's irregular plurals: "<form>\t<base form>".
Lemmas keep WordNet's spelling, words joined by "_". Only the data label_kinds uses is kept (no glosses)."""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

HEADER = """# WordNet 3.0 nouns: hypernyms, first senses, irregular plurals (built by scripts/wordnet_table.py)
# WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. Used under the WordNet license,
# models/data/WORDNET-LICENSE (https://wordnet.princeton.edu/license-and-commercial-use).
"""


def build(root: Path) -> bytes:
    """The table's bytes (uncompressed) from the WordNet database folder `root`.

    Raises FileNotFoundError when `root` lacks data.noun, index.noun or noun.exc."""
    synsets: list[tuple[str, str, list[str]]] = []  # (offset, first lemma, hypernym offsets)
    for line in (root / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the licence at the top of the file
            continue
        fields = line.split(" | ")[0].split()
        count = int(fields[3], 16)
        at = 4 + 2 * count
        pointers = int(fields[at])
        up = [fields[at + 1 + 4 * i + 1] for i in range(pointers)
              if fields[at + 1 + 4 * i] in ("@", "@i") and fields[at + 1 + 4 * i + 2] == "n"]
        synsets.append((fields[0], fields[4].lower(), up))
    ids = {offset: i for i, (offset, _, _) in enumerate(synsets)}
    lines = [HEADER.rstrip("\n")]
    lines += [f"{lemma}\t{','.join(str(ids[o]) for o in up)}" for _, lemma, up in synsets] + [""]
    for line in (root / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        pointer_kinds = int(fields[3])
        lines.append(f"{fields[0]}\t{ids[fields[4 + pointer_kinds + 2]]}")  # the offsets follow in sense order
    lines.append("")
    lines += ["\t".join(line.split()[:2]) for line in (root / "noun.exc").read_text(encoding="latin-1").splitlines()]
    return ("\n".join(lines) + "\n").encode()


def main(argv: list[str]) -> int:
    """Write the table from the WordNet folder argv[0] (default /usr/share/wordnet); prints its path and size.
    Returns 0; raises FileNotFoundError as build does."""
    root = Path(argv[0] if argv else "/usr/share/wordnet")
    out = Path(__file__).resolve().parent.parent / "models" / "data" / "wordnet-3.0-nouns.tsv.xz"
    out.write_bytes(lzma.compress(build(root), preset=9 | lzma.PRESET_EXTREME))
    print(f"{out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
