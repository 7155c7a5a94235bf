"""What each kind of OpenAI-compatible server needs, learned per server and model as a run goes
(README "Servers and their quirks"): a parameter a model refuses is dropped and the call sent again; the
token cap goes in both fields outside OpenAI; a model that shows reasoning gets room, no stop sequence,
and thinking switched off where the server takes that; reasoning never reaches an answer."""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import urlparse

from ictc.models.html_page import looks_like_html, page_line
from ictc.models.reasoning import cut_inside_reasoning, has_reasoning, strip_reasoning

OPENAI_HOSTS = ("api.openai.com",)
# never dropped: they carry the request's meaning, or the output mode (models/structured.py changes that)
KEEP = frozenset({"model", "messages", "response_format", "stream", "n", "tools", "tool_choice"})
CAP_FIELDS = ("max_completion_tokens", "max_tokens")
HIDDEN_MIN = 4  # an empty answer at a smaller cap (Step 3's one-token calls) may be a blank first token, no reasoning
# a 400 about this one request (its length, its image): the request fails, the parameters stay
# (the image's own refusals too: its size or shape, its format, a content filter; vLLM's prompt longer than
# max_model_len counts its image's tokens)
PER_REQUEST = re.compile(r"context length|context window|context size|maximum context|too long|too many tokens|"
                         r"n_ctx|reduce the length|exceeds|image.{0,40}(invalid|corrupt|decode|could not)|"
                         r"unsupported image|invalid image|(height|width).{0,40}(larger|smaller) than|aspect ratio|"
                         r"maximum model length|max_model_len|content.{0,12}(filter|polic)|safety system|"
                         r"filtered due to|(process|load|decode|read)\w* (the |an? )?(input )?image|valid image|"
                         r"image: unknown format|\bexceeds?\b|max(imum)? allowed size|flagged|"
                         r"`?inputs`? tokens|\b413\b|(entity|payload|body|request) too large", re.IGNORECASE)
# the request is longer than the model's context (OpenAI, vLLM, llama.cpp, TGI, Ollama's words)
CONTEXT_LENGTH = re.compile(r"context length|context window|context size|maximum context|n_ctx|max_model_len|"
                            r"reduce the length|too many tokens|maximum model length|exceed_context", re.IGNORECASE)
REFUSAL = re.compile(r"unsupported|not supported|unrecognized|unknown|extra (inputs|fields)|not permitted|"
                     r"not allowed|does not support|invalid (parameter|argument)|unexpected|\bmust\b|cannot find field|"
                     r"should be|"  # pydantic v2: "Input should be greater than 0" (temperature 0)
                     # two parameters refused together (Volcengine Ark: "max_tokens and max_completion_tokens cannot
                     # be set at the same time", named in `param`): the one named goes, the other is kept
                     r"at the same time|not valid|mutually exclusive|only one of|cannot be (used|set|given|sent) "
                     r"together|(either|one of) .{0,60} but not both", re.IGNORECASE)
# other servers' names for what ictc sends (Anthropic's stop_sequences, TGI's top_n_tokens and max_new_tokens)
ALIASES = {"stop_sequences": "stop", "top_n_tokens": "top_logprobs", "max_new_tokens": "max_tokens"}
# a value above what the server allows ("top_logprobs ... max allowed: 5", OpenAI's "Expected a value <= 5",
# FastAPI's "less than or equal to 5"): the parameter is lowered to the limit, not dropped
LIMIT = re.compile(r"<=|less than or equal|at most|maximum|max(?:imum)? allowed|greater than|above|must not exceed|"
                   r"cannot exceed|can't exceed|no (?:more|greater) than|between \d+ and|range \[\d+,", re.IGNORECASE)
# (Gemini: 'Unknown name "additionalProperties" at 'generation_config.response_schema'')
OUTPUT_MODE = re.compile(r"response_format|response_schema|json_schema|json_object|structured output|guided_json|"
                         r"grammar", re.IGNORECASE)
# OpenRouter's 404 when no provider of the model takes one of the request's parameters; it names none, so the
# optional ones are dropped in this order (the first a provider most often lacks), a parameter with its partners
# (not its "No endpoints found that support image input": a text-only model, nodes/watch.py)
NO_ENDPOINTS = re.compile(r"no endpoints found that (can handle|support) the requested parameters", re.IGNORECASE)
OPTIONAL = ("logprobs", "top_logprobs", "seed", "chat_template_kwargs", "reasoning_effort", "stop")
PARTNERS = {"logprobs": ("top_logprobs",), "top_logprobs": ("logprobs",)}


def error_of(data: bytes | str) -> tuple[str, str | None]:
    """(message, param) of an error body: OpenAI's {"error": {"message", "param"}}, vLLM's {"message"},
    Ollama's {"error": "..."}; a proxy's HTML page as its title or heading (models/html_page.py: "502 Bad
    Gateway", not the markup); the raw text when it is neither."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        parsed = json.loads(text)
    except ValueError:
        return (page_line(text) or text if looks_like_html(text) else text), None
    if isinstance(parsed, list) and parsed:  # Gemini's OpenAI-compatible endpoint: [{"error": {...}}]
        parsed = parsed[0]
    if isinstance(parsed, dict) and isinstance(parsed.get("errors"), list) and parsed["errors"]:  # Cloudflare
        parsed = {"error": parsed["errors"][0]}
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(error, dict):
        param = error.get("param")
        message = str(error.get("message") or error)
        raw = (error.get("metadata") or {}).get("raw") if isinstance(error.get("metadata"), dict) else None
        if isinstance(raw, str) and raw:  # OpenRouter: "Provider returned error", the provider's words in raw
            message = f"{message}: {error_of(raw)[0]}"
        return message, param if isinstance(param, str) else None
    return str(error), None


def names_output_mode(data: bytes | str) -> bool:
    """True when an error body is about the response format (the only answer that changes JsonCaller's mode)."""
    message, param = error_of(data)
    return bool(OUTPUT_MODE.search(message) or (param and OUTPUT_MODE.search(param)))


class ServerQuirks:
    """One server's learned quirks, per model; thread-safe (every call of a run shares it).

    base_url: the server; reasoning_room: tokens added to a step's cap for a model that reasons (its
    reasoning counts against the cap: OpenAI's reasoning tokens, a `<think>` block)."""

    def __init__(self, base_url: str, reasoning_room: int):
        self.openai = (urlparse(base_url).hostname or "") in OPENAI_HOSTS
        self.room = reasoning_room
        self.refused: dict[str, set[str]] = {}
        self.limits: dict[str, dict[str, int]] = {}  # model -> parameter -> the most the server allows
        self.reasoning: set[str] = set()
        self._lock = threading.Lock()

    def is_reasoning(self, model: str) -> bool:
        """True once `model` showed reasoning on this server."""
        with self._lock:
            return model in self.reasoning

    def prepare(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request body to send for `body` (a chat completion request), adapted to what was learned."""
        model = str(body.get("model", ""))
        body = dict(body)
        cap = next((body[f] for f in CAP_FIELDS if isinstance(body.get(f), int)), None)
        if cap is not None and not self.openai:  # Ollama and older llama.cpp read only max_tokens
            for name in CAP_FIELDS:
                body[name] = cap
        with self._lock:
            reasoning, refused = model in self.reasoning, set(self.refused.get(model, ()))
            limits = dict(self.limits.get(model, {}))
        if reasoning:
            for name in CAP_FIELDS:
                if isinstance(body.get(name), int):
                    body[name] += self.room
            body.pop("stop", None)  # a stop sequence ("\n" in Step 2a) would cut the reasoning, not the answer
            if self.openai:
                body.setdefault("reasoning_effort", "low")
            else:  # vLLM, llama.cpp and SGLang pass it to Qwen3-style chat templates; Ollama ignores it
                body.setdefault("chat_template_kwargs", {"enable_thinking": False})
        for name in refused:
            body.pop(name, None)
        for name, most in limits.items():
            if isinstance(body.get(name), int):
                body[name] = min(body[name], most)
        return body

    def refuse(self, body: dict[str, Any], status: int, data: bytes) -> str | None:
        """The parameter of `body` that an error answer (`status`, body `data`) says the model refuses,
        remembered for this model so it is never sent again (or, for a number above the server's limit, sent
        at that limit); None when the error is about something else. The parameter is the one the error's
        `param` names, else the first quoted in its message, else the first of the body's keys the message
        names as a word (Azure's "Unrecognized request argument supplied: max_completion_tokens"); for
        OpenRouter's 404 "No endpoints found that can handle the requested parameters", the first optional one
        (OPTIONAL)."""
        message, param = error_of(data)
        model = str(body.get("model", ""))
        if status == 404 and NO_ENDPOINTS.search(message):  # OpenRouter names no parameter: the optional ones go
            return self._drop_optional(model, body)
        if status not in (400, 422):
            return None
        words = sorted((m.start(), key) for key in [*body, *ALIASES] if key not in KEEP
                       if (m := re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", message)))
        named = [param or "", *re.findall(r"['\"`]([A-Za-z_][\w.]*)['\"`]", message), *(key for _, key in words)]
        tops = [top for name in named if (top := ALIASES.get(name, name).split(".")[0]) in body and top not in KEEP]
        limits = [int(m[2]) for m in re.finditer(rf"({LIMIT.pattern})\D{{0,30}}?(\d+)", message, re.IGNORECASE)]
        numbers = {int(n) for n in re.findall(r"\d+", message)}
        ints = {k: v for k, v in body.items() if k not in KEEP and type(v) is int}
        # the number named, else the one whose value the message quotes (vLLM: "Requested sample logprobs of 20,
        # which is greater than max allowed: 5" names no parameter); the first that is over a stated limit
        for capped in [t for t in tops if t in ints] or [k for k, v in ints.items() if v in numbers]:
            if lower := [n for n in limits if 0 < n < ints[capped]]:
                with self._lock:
                    self.limits.setdefault(model, {})[capped] = max(lower)
                return capped
        if PER_REQUEST.search(message) or not REFUSAL.search(message) or not tops:
            return None
        with self._lock:
            self.refused.setdefault(model, set()).add(tops[0])
        return tops[0]

    def _drop_optional(self, model: str, body: dict[str, Any]) -> str | None:
        """The first of OPTIONAL (with its partners) that `body` carries, remembered as refused for `model`; None
        when it carries none of them (the refusal is then about something else)."""
        name = next((name for name in OPTIONAL if name in body), None)
        if name is not None:
            with self._lock:
                self.refused.setdefault(model, set()).update({name, *PARTNERS.get(name, ())})
        return name

    def clean(self, model: str, data: dict[str, Any], cap: int | None = None) -> bool:
        """Strips reasoning from every choice of a chat completion answer `data` (in place) and notes a
        model that reasons. Returns True when an answer is missing because the reasoning used up the cap
        or was cut by a stop sequence: the call deserves one more try with room. `cap`: the request's token
        cap; an answer empty at a cap of HIDDEN_MIN tokens or more, ended by it with no reasoning shown, is
        reasoning the server hides (Gemini 2.5's thinking counts against max_tokens and is never sent)."""
        usage = data.get("usage") or {}
        reasoned = bool(((usage.get("completion_tokens_details") or {}).get("reasoning_tokens")) or 0)
        short = False
        for choice in data.get("choices") or []:
            message = choice.get("message") or {}
            content = message.get("content")
            cut = False
            if isinstance(content, str) and has_reasoning(content):
                reasoned, cut = True, cut_inside_reasoning(content)
                message["content"] = content = strip_reasoning(content)
            reasoned = reasoned or bool(message.get("reasoning_content") or message.get("reasoning"))
            empty = not (content or "").strip() and not message.get("tool_calls")
            ended = choice.get("finish_reason") == "length"
            short = short or (empty and (cut or ended))
            reasoned = reasoned or (empty and ended and (cap is None or cap >= HIDDEN_MIN))
        if reasoned:
            with self._lock:
                self.reasoning.add(model)
        return reasoned and short


# a server's words for a model name it does not serve: OpenAI's model_not_found, vLLM's "The model `x` does not
# exist", Ollama's "model 'x' not found, try pulling it first" (the start-up check and the failure watch read them)
UNKNOWN_MODEL = re.compile(r"model\b.{0,80}\b(not found|does not exist|unknown|not available|no such)|"
                           r"(unknown|invalid|no such|not a valid) model|model_not_found", re.IGNORECASE | re.DOTALL)


def unknown_model_fix(flag: str, model: str, message: str) -> str:
    """The way out of a refused model name: `flag` (--vlm, --llm) given a name the server serves, and first,
    where the server says the model can be pulled (Ollama), the pull itself."""
    pull = f"pull it on the server (`ollama pull {model}`), or " if "try pulling" in message.lower() else ""
    return f"{pull}give {flag} a name the server serves"


# a 429 that no wait helps: out of credit (OpenAI), a daily quota spent (Gemini, Groq's tokens or requests per day)
# (OpenRouter's free tier: "Rate limit exceeded: free-models-per-day", the reset hours away)
SPENT = re.compile(rb"insufficient_quota|RESOURCE_EXHAUSTED|exceeded your current quota|per day \((?:TPD|RPD)\)|"
                   rb"free-models-per-day|requests per day")


# a 503 that says the server will answer soon: llama.cpp's "Loading model", TGI's "Model X is currently loading"
# (with estimated_time), Ollama's queue full "server busy, please try again. maximum pending requests exceeded";
# waited out as a 429 is (models/pushback.py). Other 503s (a proxy with no upstream) fail as before.
LOADING = re.compile(rb"loading model|(is|still|currently) loading|model is (being )?loaded", re.IGNORECASE)
BUSY_503 = re.compile(rb"server busy|maximum pending requests|too many pending|overloaded|queue (is )?full",
                      re.IGNORECASE)


def unavailable_kind(status: int, body: bytes) -> str:
    """What a 503 answer's `body` says: "loading" (the model is loading: no sign of load, the in-flight cap
    stays), "busy" (a full queue: as a 429), or "" (any other status or 503). Anthropic's 529 "Overloaded" is
    busy whatever its body says (it had failed an image after the client's retries)."""
    if status == 529:
        return "busy"
    if status != 503:
        return ""
    return "loading" if LOADING.search(body) else "busy" if BUSY_503.search(body) else ""


def estimated_wait(body: bytes) -> float | None:
    """Seconds a 503 `body` says loading will take (TGI and Hugging Face endpoints' "estimated_time"), or None."""
    try:
        value = json.loads(body).get("estimated_time")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def is_quota_error(response: Any) -> bool:
    """True when a 429 `response` (httpx) says a quota is spent (SPENT), not that the server is busy."""
    try:
        return bool(SPENT.search(response.read()))
    except Exception:  # noqa: BLE001 (a body that cannot be read is not a quota error we can see)
        return False


def refusal_of(answer: dict[str, Any]) -> str:
    """Why a 200 answer holds no answer because it was refused (OpenAI's `message.refusal`, Azure's
    `finish_reason: content_filter`), in words; "" when it was not. Such an image had failed as "the VLM returned
    an empty description"."""
    for choice in answer.get("choices") or []:
        message = choice.get("message") or {}
        if isinstance(content := message.get("content"), str) and content.strip():
            continue
        if isinstance(refusal := message.get("refusal"), str) and refusal.strip():
            return f"the model refused this request (content filter or policy): {refusal.strip()[:200]}"
        if choice.get("finish_reason") == "content_filter":
            return "the server's content filter refused this request (finish_reason content_filter)"
    return ""


FOUND = "x-ictc-found"  # the header of error_response's stand-in: the server said 200, ictc found the answer unusable


def error_response(request: Any, message: str, kind: str, fields: dict[str, int] | None = None) -> Any:
    """A 400 response (httpx) carrying `message`, for a call answered with no usable answer: the openai client
    raises it as that image's failure, in those words, and does not retry it. Its FOUND header holds `kind`, so
    that what is said of it names what ictc found, not an "HTTP 400" the server never sent (found_in); `fields`
    (e.g. "cut_at", "asked" for "server_cap") go beside the message in its error body, read back by found_fields."""
    return status_response(request, 400, {"error": {**(fields or {}), "message": message, "type": kind}},
                           retry=False, headers={FOUND: kind})


def found_in(exc: BaseException) -> str:
    """The kind of unusable answer ("server_cap", "refusal", "reasoning_cut") when the failure `exc` is
    error_response's stand-in for a 200 answer ictc found unusable; "" for an error the server itself sent."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return str(headers.get(FOUND, "")) if headers is not None else ""


def found_fields(exc: BaseException) -> dict[str, int]:
    """The whole-number fields error_response put beside the message of its stand-in, when the failure `exc` is
    one (found_in); {} otherwise, or when its body cannot be read. Why: the stop's words had read the counts back
    out of ictc's own sentence (a regular expression on models/answers.cut_said)."""
    response = getattr(exc, "response", None)
    if not found_in(exc):
        return {}
    try:
        error = response.json().get("error") if response is not None else None
    except Exception:  # noqa: BLE001 (an unread or malformed body: the message alone is said)
        return {}
    if not isinstance(error, dict):
        return {}
    return {key: value for key, value in error.items() if type(value) is int}


def status_response(request: Any, status: int, body: dict[str, Any], retry: bool,
                    headers: dict[str, str] | None = None) -> Any:
    """A response (httpx) of HTTP `status` with the JSON `body` and `headers`, for `request` (an httpx Request or a
    WireRequest); `retry` False marks it not to be retried by the openai client (else its rule decides: 5xx are
    retried)."""
    from ictc.models.wire import http_package  # the HTTP package of the openai SDK

    if hasattr(request, "httpx"):  # a WireRequest (models/wire.py): the openai client reads httpx's own
        request = request.httpx()
    return http_package().Response(status, json=body, request=request,
                                   headers={**({} if retry else {"x-should-retry": "false"}), **(headers or {})})


def reasoning_cut(request: Any, room: int) -> Any:
    """error_response for a call whose answer the model's reasoning left out, though it had `room` more tokens,
    with the setting to raise."""
    message = (f"the model's reasoning used up its whole token cap, {room} tokens of room included, before it "
               f"answered: raise ICTC_REASONING_ROOM (now {room})")
    return error_response(request, message, "reasoning_cut")
