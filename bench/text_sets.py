"""Labelled text-half sets for bench/text_quality.py: each image comes with a description that a stand-in
for the VLM returns (bench only). Real human-written names (Unicode emoji names grouped into six coarse
categories by code-chart ranges; WordNet nouns under six roots) and a rich stand-in for the 20 CIFAR-10 samples."""

from __future__ import annotations

import hashlib
import random
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "cifar10"
FALLBACK_SAMPLES = Path("/work/main/samples/cifar10")

# Coarse categories by Unicode code-chart ranges (Miscellaneous Symbols and Pictographs; Transport and Map
# Symbols). Left out, as not clearly one category: chestnut, hot pepper, mushroom (plant/food), drinks and
# tableware, eyeglasses and bags, stations, signs and symbols, and the "... face" duplicates of animals.
EMOJI_RANGES: dict[str, list[tuple[int, int]]] = {
    "animals": [(0x1F400, 0x1F43C)],
    "food": [(0x1F345, 0x1F372)],
    "plants": [(0x1F331, 0x1F335), (0x1F337, 0x1F343)],
    "vehicles": [(0x1F680, 0x1F688), (0x1F68A, 0x1F68E), (0x1F690, 0x1F6A4), (0x1F6B2, 0x1F6B2)],
    "clothes": [(0x1F451, 0x1F452), (0x1F454, 0x1F459), (0x1F45E, 0x1F462)],
    "sports": [(0x1F3BD, 0x1F3C0), (0x1F3C8, 0x1F3C9), (0x1F3CF, 0x1F3D3), (0x1F3F8, 0x1F3F8), (0x26BD, 0x26BE)],
}

# The 20 CIFAR-10 samples (samples/cifar10, in file order): the right object, a smaller object of another
# class, and the scenery, in three sentences. Written for this bench by looking at the class, not tuned.
CIFAR_DESCRIPTIONS = [
    "A tabby cat sits on a wooden floor and looks at the camera. A small toy car lies near its paws. Behind it is a beige wall.",
    "A large grey cargo ship sails across calm open water. A seagull flies low over the bow. The sky is pale and hazy.",
    "A white passenger ship is moored in a harbour. A small airplane passes high in the sky above it. The water is dark blue.",
    "A jet airplane flies through a clear blue sky with its wheels down. A bird is a tiny dark speck near one wing. Nothing else is in view.",
    "A green frog squats on a wet rock. A beetle-sized toy truck sits at the edge of the rock. Moss and water surround it.",
    "A brown frog rests among fallen leaves. A small bird perches on a twig in the background. The ground is damp soil.",
    "A red car is parked on a city street. A dog stands on the pavement next to it. Shop windows line the road.",
    "A spotted frog sits on a lily pad in a pond. A small boat floats far away on the water. Reeds grow at the edges.",
    "A grey cat lies curled up on a sofa cushion. A toy horse figure stands on the armrest. The room is softly lit.",
    "A silver car drives along a country road. A horse grazes in the field behind it. Trees and hills fill the background.",
    "A small propeller airplane stands on a grass airfield. A dog runs across the grass near its tail. The sky is cloudy.",
    "A large red truck with a trailer drives on a highway. A car is visible far behind it. The road runs through flat farmland.",
    "A brown dog sits on a lawn with its tongue out. A cat watches it from a fence in the background. The garden is sunny.",
    "A chestnut horse stands in a paddock. A small frog sits by the water trough at its hooves. A wooden fence runs behind it.",
    "A white delivery truck is parked by a warehouse. A cat sits on a crate near the loading door. The pavement is wet.",
    "A fishing ship heads out to sea. A small airplane flies along the coast in the distance. Waves break white around the hull.",
    "A black and white dog runs across a beach. A small ship is visible on the horizon. The sand is pale and the sea calm.",
    "A grey horse gallops across a meadow. A dog follows far behind it. Hills and a blue sky fill the background.",
    "A tall sailing ship with white sails crosses the sea. A small bird rests on the railing. The sky is clear.",
    "A bright green tree frog clings to a leaf. A tiny toy car lies on the ground below. The background is dense foliage.",
]


@dataclass
class TextSet:
    name: str
    criterion: str
    k: int
    paths: list[str]
    truth: dict[str, str]  # path -> true class
    descriptions: dict[str, str]  # path -> the description the stand-in VLM returns


def pixel_key(image: Any) -> str:
    """Key of an image by its pixels (what the VLM receives), so the stand-in finds its description."""
    return hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()


class StandInVLM(BaseChatModel):
    """A stand-in for the VLM in this bench only: returns the stored description of the image it is shown
    (matched by pixels). Never a product default; the text half (Steps 2a, 2b, 3) is what is measured."""

    by_pixels: dict[str, str] = {}

    @property
    def _llm_type(self) -> str:
        return "stand-in-descriptions"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        from ictc.core.images import data_uri_to_image

        blocks = [b for m in messages if not isinstance(m.content, str) for b in m.content
                  if isinstance(b, dict) and b.get("type") == "image_url"]
        text = self.by_pixels[pixel_key(data_uri_to_image(blocks[0]["image_url"]["url"]))]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def stand_in_vlm(sets: list[TextSet]) -> StandInVLM:
    from ictc.core.images import load_rgb

    return StandInVLM(by_pixels={pixel_key(load_rgb(p, 512)): s.descriptions[p] for s in sets for p in s.paths})


def emoji_set(folder: Path, per_class: int = 8, seed: int = 0) -> TextSet:
    """`per_class` emoji per category, chosen with a fixed seed; the description is the Unicode name as a
    caption ("Goat."); each gets a distinct small noise image so no two are deduplicated."""
    import numpy as np
    from PIL import Image

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, truth, descriptions = [], {}, {}
    for category, ranges in EMOJI_RANGES.items():
        names = [unicodedata.name(chr(c)) for lo, hi in ranges for c in range(lo, hi + 1)
                 if unicodedata.name(chr(c), "") and not unicodedata.name(chr(c)).endswith((" FACE", "PAW PRINTS"))]
        for name in rng.sample(names, min(per_class, len(names))):
            path = folder / f"{category}-{name.lower().replace(' ', '_')}.png"
            if not path.exists():
                seed_of = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
                pixels = np.random.default_rng(seed_of).integers(0, 255, (24, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(path)
            paths.append(str(path))
            truth[str(path)] = category
            descriptions[str(path)] = name.capitalize() + "."
    return TextSet(f"emoji-{len(paths)}", "kind of thing", len(EMOJI_RANGES), paths, truth, descriptions)


# WordNet 3.0 (Princeton University, https://wordnet.princeton.edu; the Debian package wordnet-base installs it
# in /usr/share/wordnet, `apt-get install wordnet-base`): nouns under six roots, by synset offset in data.noun.
WORDNET = Path("/usr/share/wordnet")
WORDNET_ROOTS = {"animals": "00015388",  # animal, animate being, beast, brute, creature, fauna
                 "food": "07555863",  # food, solid food
                 "plants": "00017222",  # plant, flora, plant life
                 "vehicles": "04524313",  # vehicle
                 "clothes": "03051540",  # clothing, article of clothing, vesture, wear
                 "sports": "04285146"}  # sports equipment


def _wordnet_nouns() -> tuple[dict[str, tuple[str, list[str]]], dict[str, list[str]]]:
    """data.noun as {offset: (first lemma, hyponym offsets)} and index.noun as {lemma: offsets of its senses,
    most frequent first, only the senses seen in the tagged corpus (tagsense_cnt)}."""
    synsets: dict[str, tuple[str, list[str]]] = {}
    for line in (WORDNET / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue
        fields = line.split(" | ")[0].split()
        n_words = int(fields[3], 16)
        lemma = fields[4]
        at = 4 + 2 * n_words
        pointers = fields[at + 1:at + 1 + 4 * int(fields[at])]
        synsets[fields[0]] = (lemma, [pointers[i + 1] for i in range(0, len(pointers), 4) if pointers[i] == "~"])
    senses: dict[str, list[str]] = {}
    for line in (WORDNET / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue
        fields = line.split()
        tagged = int(fields[5 + int(fields[3])])
        senses[fields[0]] = fields[-int(fields[2]):][:tagged]
    return synsets, senses


def wordnet_set(folder: Path, per_class: int = 8, seed: int = 0) -> TextSet | None:
    """`per_class` WordNet nouns per root of WORDNET_ROOTS, as one-line captions ("A goat.", "A sweater."):
    the first lemma of a hyponym synset (at any depth) that is that word's most frequent tagged sense, so
    the word alone means the thing ("goat", not "hack" for a horse); none under two roots. Chosen with a
    fixed seed; None when WordNet is not installed."""
    import numpy as np
    from PIL import Image

    if not (WORDNET / "data.noun").is_file():
        return None
    synsets, senses = _wordnet_nouns()
    below: dict[str, set[str]] = {}
    for category, root in WORDNET_ROOTS.items():
        seen, todo = set(), [root]
        while todo:
            offset = todo.pop()
            if offset not in seen:
                seen.add(offset)
                todo += synsets[offset][1]
        below[category] = seen - {root}
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, truth, descriptions = [], {}, {}
    for category, offsets in below.items():
        others = set().union(*(v for k, v in below.items() if k != category))
        words = sorted({synsets[o][0] for o in offsets - others
                        if (senses.get(synsets[o][0].lower()) or [""])[0] == o and synsets[o][0].islower()})
        for word in rng.sample(words, min(per_class, len(words))):
            text = word.replace("_", " ")
            path = folder / f"{category}-{word}.png"
            if not path.exists():
                seed_of = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                Image.fromarray(np.random.default_rng(seed_of).integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
            paths.append(str(path))
            truth[str(path)] = category
            an = text[0] in "aeio" or (text[0] == "u" and not text.startswith("uni"))
            descriptions[str(path)] = ("An " if an else "A ") + text + "."
    return TextSet(f"wordnet-{len(paths)}", "kind of thing", len(WORDNET_ROOTS), paths, truth, descriptions)


def cifar_set() -> TextSet:
    from ictc.evaluation.labels import read_labels

    folder = SAMPLES if SAMPLES.is_dir() else FALLBACK_SAMPLES
    labels = read_labels(folder / "labels.csv")
    paths = sorted(str(p) for p in folder.glob("*.png"))
    truth = {p: next(v for k, v in labels.items() if Path(k).name == Path(p).name) for p in paths}
    return TextSet("cifar10-20-rich", "object", len(set(truth.values())), paths, truth,
                   dict(zip(paths, CIFAR_DESCRIPTIONS, strict=True)))


def all_sets(per_class: int = 8) -> list[TextSet]:
    """The bench's sets: cifar10-20-rich, emoji-(6 x per_class) and, when WordNet is installed, wordnet-(6 x
    per_class)."""
    folder = Path(tempfile.gettempdir())
    wordnet = wordnet_set(folder / "ictc-bench-wordnet", per_class)
    return [cifar_set(), emoji_set(folder / "ictc-bench-emoji", per_class), *([wordnet] if wordnet else [])]
