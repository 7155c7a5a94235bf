"""Step 3's answer: exactly one of the K names for every image, and how it was obtained.

Routes: `choice` (local log-likelihood over the names, calibrated against a content-free prompt),
`schema` / `json` / `text` (endpoint answer that is a name as given), `retry` (a name after telling
the model its answer was not one), `mapped-string` / `mapped-embedding` (an answer that is no name,
mapped by the rule in `map_to_name`); `logprobs` / `logprobs+embedding` come from models/calibrated.py."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from langchain_core.messages import AIMessage

from ictc.models.embed import TextEmbedder
from ictc.models.other import none_of_these
from ictc.models.structured import JsonCaller, parse_json_object

_ARTICLES = re.compile(r"^(a|an|the)\s+")


@dataclass(frozen=True)
class Choice:
    """One image's Step-3 answer: the cluster `name`, the `route` that gave it (README "Step-3 routes"),
    the model's own `answer` and the model `calls` it took."""

    name: str
    route: str
    answer: str  # the model's own words (or the best-scoring name for `choice`)
    calls: int = 1  # model calls it took
    scores: tuple[float, ...] = ()  # per name, the calibrated log-probability gain (route `logprobs` only)


RetryMessages = Callable[[str], list]  # the model's wrong answer -> messages that tell it so


class Chooser(Protocol):
    """Step 3's way of putting one image in one of the K names (IC|TC Step 3), whatever the backend."""

    def choose(self, messages: list, names: list[str], description: str, retry: RetryMessages) -> Choice:
        """The name among `names` (K strings) for the image whose Step-3 prompt is `messages` (LangChain
        messages holding `description`); `retry(answer)` gives the messages that tell the model its answer
        was not a name. Returns a Choice, always one of `names`; model errors propagate."""
        ...


def normalize(text: str) -> str:
    """`text` lower-cased, punctuation and underscores as spaces, spaces folded, a leading article dropped:
    the form answers and names are compared in."""
    text = re.sub(r"[^\w\s-]", " ", text.lower()).replace("_", " ")
    return _ARTICLES.sub("", " ".join(text.split()))


def exact_name(answer: str, names: list[str]) -> str | None:
    """The name the answer spells out, ignoring case, punctuation and a leading article; with an "other"
    group, an answer saying none fits is "other" (models/other.py)."""
    wanted = normalize(answer)
    return next((n for n in names if normalize(n) == wanted), None) or none_of_these(answer, names)


def string_match(answer: str, names: list[str]) -> str | None:
    """String rule, in order: the answer contains exactly one name as whole words (longest wins if
    several); the answer is contained in exactly one name; the closest spelling with ratio >= 0.8."""
    said = normalize(answer)
    if not said:
        return None
    inside = [n for n in names if normalize(n) and re.search(rf"\b{re.escape(normalize(n))}\b", said)]
    if inside:
        longest = max(len(normalize(n)) for n in inside)
        candidates = [n for n in inside if len(normalize(n)) == longest]
        if len(candidates) == 1:
            return candidates[0]
    containing = [n for n in names if re.search(rf"\b{re.escape(said)}\b", normalize(n))]
    if len(containing) == 1:
        return containing[0]
    ratios = [difflib.SequenceMatcher(None, said, normalize(n)).ratio() for n in names]
    best = max(range(len(names)), key=lambda i: (ratios[i], -i))
    return names[best] if ratios[best] >= 0.8 else None


def map_to_name(answer: str, names: list[str], description: str, embedder: TextEmbedder) -> Choice:
    """Stated rule for an answer that is not a name: string rule first, then the name whose embedding
    is closest to the answer's (to the description's when the answer is empty); ties go to the earlier
    name. Never random."""
    by_string = string_match(answer, names)
    if by_string is not None:
        return Choice(by_string, "mapped-string", answer)
    probe = answer.strip() or description
    vectors = embedder.embed([probe, *names])
    similarity = vectors[1:] @ vectors[0]
    best = max(range(len(names)), key=lambda i: (round(float(similarity[i]), 6), -i))
    return Choice(names[best], "mapped-embedding", answer)


CONTENT_FREE = "N/A"  # what replaces the description when a prompt's prior over the names is measured


class LikelihoodChooser:
    """Local LLM: the name whose log-likelihood after the prompt gains most over the same prompt with a
    content-free description. No text is parsed.

    Why calibrate (Zhao et al. 2021, "Calibrate Before Use"): a small model's raw scores favour some names
    whatever the image; with SmolLM2-135M one name won 16 of 16 test descriptions (2/16 right), against
    9/16 after subtracting the prior (bench/local_levers.py). The prior depends only on the criterion, the
    names and the instructions, so it is scored once per prompt and kept."""

    def __init__(self, model, calibrate: bool = True):
        self.model, self.calibrate = model, calibrate
        self._priors: dict[tuple[tuple[str, ...], tuple[str, ...]], list[float]] = {}

    def _prior(self, messages: list, names: list[str], description: str) -> list[float] | None:
        if not description or not any(isinstance(m.content, str) and description in m.content for m in messages):
            return None
        blank = [m.model_copy(update={"content": m.content.replace(description, CONTENT_FREE)})
                 if isinstance(m.content, str) else m for m in messages]
        key = (tuple(str(m.content) for m in blank), tuple(names))
        if key not in self._priors:
            if len(self._priors) >= 256:  # a few prompts per run; never grow without bound
                self._priors.clear()
            self._priors[key] = self.model.score_options(blank, names)
        return self._priors[key]

    def choose(self, messages: list, names: list[str], description: str, retry: RetryMessages) -> Choice:
        """The name with the highest log-likelihood after `messages`, minus (when calibrating) its
        log-likelihood with the description replaced by "N/A"; ties go to the earlier name. One call; `retry`
        is not needed (the answer is always a name). Returns a Choice with route "choice"."""
        scores = self.model.score_options(messages, names)
        prior = self._prior(messages, names, description) if self.calibrate else None
        if prior is not None:
            scores = [score - base for score, base in zip(scores, prior, strict=True)]
        best = max(range(len(names)), key=lambda i: (scores[i], -i))
        return Choice(names[best], "choice", names[best])


def _answer_text(content: str) -> str:
    parsed = parse_json_object(content)
    if parsed and isinstance(parsed.get("category"), str):
        return parsed["category"]
    return content.strip().splitlines()[0] if content.strip() else ""


class PromptedChooser:
    """Any chat model (endpoints): JSON schema with an enum of the names where the server takes it,
    then re-asks, then the mapping rule."""

    ROUTE_OF_MODE = {"json_schema": "schema", "json_object": "json", "text": "text"}

    def __init__(self, caller: JsonCaller, embedder: TextEmbedder, retries: int, max_tokens: int = 64):
        self.caller, self.embedder, self.retries = caller, embedder, retries
        self.max_tokens = max_tokens

    def choose(self, messages: list, names: list[str], description: str, retry: RetryMessages) -> Choice:
        """Ask with the names as a JSON-schema enum (or the best output mode the server takes); an answer that
        is not a name is re-asked `retries` times with `retry(answer)`, then mapped by the stated rule
        (string_match, then the nearest embedding). Returns a Choice; endpoint errors propagate."""
        schema = {"type": "object", "properties": {"category": {"type": "string", "enum": list(names)}},
                  "required": ["category"], "additionalProperties": False}
        conversation = list(messages)
        answer = ""
        for attempt in range(self.retries + 1):
            content, mode = self.caller.invoke(conversation, schema, "category", max_tokens=self.max_tokens)
            answer = _answer_text(content)
            name = exact_name(answer, names)
            if name is not None:
                return Choice(name, "retry" if attempt else self.ROUTE_OF_MODE[mode], answer, attempt + 1)
            conversation += [AIMessage(content=content), *retry(answer)]
        mapped = map_to_name(answer, names, description, self.embedder)
        return Choice(mapped.name, mapped.route, answer, self.retries + 1)
