"""Stopping early on a systematic failure: when the first few images of a step all fail with the same
error and none succeeded, every other image would fail too (issue 17, case 5), so the run stops with
one line naming the cause and the fix instead of paying for every image. The same holds when a server
goes away in the middle of a step: a streak of identical failures with no success between them."""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

from ictc.core.errors import SystematicFailureError
from ictc.models.answers import SERVER_CAP, SERVER_CAP_FIX
from ictc.models.bodies import HTML_PAGE
from ictc.models.html_page import HTML_PAGE_FIX, looks_like_html
from ictc.models.quirks import (
    CONTEXT_LENGTH,
    PER_REQUEST,
    SPENT,
    UNKNOWN_MODEL,
    error_of,
    found_fields,
    found_in,
    unknown_model_fix,
)
from ictc.models.replica_errors import replicas_failed
from ictc.models.waits import asked_wait, duration

FIRST_FEW = 3  # identical failures, with no success before them, that stop a step
LATER_STREAK = 8  # identical failures in a row, after successes, that stop a step (a server gone mid-run):
# more than FIRST_FEW because one blip must not stop a long run, few enough that a dead server is noticed
# within one round of calls in flight rather than after every image has been tried and retried
SAME_FEW = 4  # different images given one same description, as the step's first answers, that stop Step 1
BLIND_FIX = ("give --vlm a vision model, or start the server with the model's vision projector (llama.cpp: --mmproj "
             "FILE; Ollama: a model with vision, e.g. qwen2.5vl or llava), and check that no proxy drops image parts")

_NO_IMAGES = re.compile(r"image input is not supported|does not support (image|vision|multimodal)|"
                        r"missing data required for image input|"  # Ollama, a model without its projector
                        r"image_url is only supported|unknown variant .?image_url|support image input|"  # OpenAI,
                        r"content.{0,12}: value must be a string|"  # DeepSeek, OpenRouter, Groq: text-only models
                        r"images? (are|is) not supported|no vision|mmproj|multimodal|not a vision|"
                        r"image_url.{0,40}not supported", re.IGNORECASE)
_NO_ACCESS = re.compile(r"does not have access to (the )?model", re.IGNORECASE)  # OpenAI: the key's project
_NOT_LOADED = re.compile(r"no models? (is |are )?loaded|load a model", re.IGNORECASE)  # LM Studio
# the spent quotas the HTTP client does not wait out (models/quirks.SPENT), and the providers' words for no credit
_OUT_OF_CREDIT = re.compile(SPENT.pattern.decode() + r"|insufficient (credits|balance|funds)|billing|out of credits?|"
                            r"credit balance", re.IGNORECASE)
_DATA_POLICY = re.compile(r"data policy|privacy", re.IGNORECASE)  # OpenRouter: the account's settings allow no provider
_NO_MEMORY = re.compile(r"requires more (system )?memory|out of memory|not enough memory", re.IGNORECASE)
_NAMES_SETTINGS = re.compile(r"ICTC_\w+|--[a-z][\w-]+|\bparam(eter)?s?\b|\bsettings?\b|\boptions?\b|\bfields?\b",
                             re.IGNORECASE)  # words of a server that name what to change
_BAD_KEY = re.compile(r"api key|api_key|unauthori[sz]ed|authentication|invalid_api_key|permission",
                      re.IGNORECASE)


def _status_and_message(exc: BaseException) -> tuple[int | None, str]:
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    try:
        body = response.text if response is not None else ""
    except Exception:  # noqa: BLE001 (an unread streamed body: the exception's text will do)
        body = ""
    message = error_of(body)[0] if body else str(exc)
    # an answer ictc found unusable (models/quirks.error_response) came with a 200: its stand-in 400 is not the server's
    return None if found_in(exc) else status, clipped(" ".join(message.split()), 300)


def clipped(text: str, limit: int) -> str:
    """`text` at most `limit` characters, cut at a space and ended with "..." when longer (a server's sentence had
    been cut mid-word: "... LM Studi")."""
    if len(text) <= limit:
        return text
    head = text[:limit - 3]
    return (head.rsplit(" ", 1)[0] if " " in head else head).rstrip(" ,;:") + "..."


def said_of(exc: BaseException) -> str:
    """What the server answered, for one line: "HTTP 502 <its words>", or ictc's words alone for an answer ictc
    found unusable (found_in: no "Error code: 400" the server never sent); cut at a word (clipped)."""
    status, message = _status_and_message(exc)
    if status and message.startswith(f"{status} "):  # a proxy page's title says its status: not said twice
        return f"HTTP {message}"
    return f"{f'HTTP {status} ' if status else ''}{message or type(exc).__name__}"


def signature(exc: BaseException) -> str:
    """What makes two failures 'the same': the error type, status and message with numbers blanked."""
    status, message = _status_and_message(exc)
    return f"{type(exc).__name__} {status} {re.sub(r'[0-9]+', '#', message)}"


def _server_of(exc: BaseException) -> str | None:
    """The server's address (scheme://host:port) of the request that failed, when the error carries it."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url is None:
        return None
    return f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}"


def _servers_said(exc: BaseException) -> str:
    """" at <server>" for the server of the request that failed, " at A and B" for the replicas that had all failed
    (models/replicas.py replicas_failed: each one, as scheme://host:port unless that would make two one); "" when
    the error names none. Why: with every replica down the stop had named only the one tried last."""
    failed = replicas_failed(exc)
    if not failed:
        server = _server_of(exc)
        return f" at {server}" if server else ""
    short = [f"{u.scheme}://{u.hostname}{f':{u.port}' if u.port else ''}" for u in map(urlsplit, failed)]
    named = short if len(set(short)) == len(set(failed)) else failed
    named = list(dict.fromkeys(named))
    return f"s at {', '.join(named[:-1])} and {named[-1]}" if len(named) > 1 else f" at {named[0]}"


def _html_page(exc: BaseException) -> bool:
    """True when the error answer behind `exc` is an HTML page (a proxy's or an access gate's, not the API's JSON)."""
    response = getattr(exc, "response", None)
    try:
        return response is not None and looks_like_html(response.text)
    except Exception:  # noqa: BLE001 (an unread streamed body: not known to be a page)
        return False


def _unreachable(exc: BaseException) -> bool:
    """True for a failure to reach the server at all (refused connection, timeout): the openai SDK's
    APIConnectionError and its APITimeoutError, httpx's transport errors, OSError."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"APIConnectionError", "TransportError", "ConnectionError", "TimeoutException"})


def context_overflow(exc: BaseException) -> str:
    """The server's words when `exc` says the request is longer than the model's context
    (models/quirks.CONTEXT_LENGTH), as "HTTP 400 <message>"; "" for any other failure."""
    status, message = _status_and_message(exc)
    if status is None or not CONTEXT_LENGTH.search(message):
        return ""
    return f"HTTP {status} {message}"


def _is_spent(exc: BaseException) -> bool:
    """True for a 402 (no credit) or a 429 whose words say a quota is spent (models/quirks.SPENT)."""
    status, message = _status_and_message(exc)
    return status == 402 or (status == 429 and bool(SPENT.search(message.encode())))


def _account_refused(exc: BaseException) -> bool:
    """True when the server refused the account, not the image: a spent quota or no credit (`_is_spent`), a refused
    API key (401), or a 403 naming the key or the model's access. Every later call fails the same way."""
    status, message = _status_and_message(exc)
    return _is_spent(exc) or status == 401 or (status == 403 and bool(_BAD_KEY.search(message) or _NO_ACCESS.search(message)))


def diagnose(exc: BaseException, role: str, model: str, how: str = "", single: bool = False) -> tuple[str, str]:
    """(cause, fix) in words for a failure seen on every image tried. role: "VLM" or "LLM"; model: its name;
    how: what was seen, e.g. "the first 3 model calls all failed" (default: that); single: True for the one call
    of a step that makes one (Step 2b's names), not said to have failed "the same way"."""
    status, message = _status_and_message(exc)
    said = said_of(exc)
    flag = f"--{role.lower()}"
    how = how or f"the first {FIRST_FEW} model calls all failed"  # calls: answers from the store count as done
    if _unreachable(exc):
        servers = _servers_said(exc)
        return (f"{how}: the {role} server{servers} could not be reached ({said})",
                f"start the server{'s' if servers.startswith('s') else ''} or correct --base-url")
    if (asked := asked_wait(exc)) is not None:  # models/waits.py: a 429 asking more than the patience
        return (f"the {role} server is rate-limiting calls: it asked to wait {duration(asked)} (HTTP 429, Retry-After), "
                f"longer than ICTC_BUSY_PATIENCE allows ({said})",
                "continue once that wait is over, or with another API key (or a higher rate limit)")
    if status == 402 or _OUT_OF_CREDIT.search(message):  # 429 insufficient_quota, OpenRouter's 402, Gemini
        return (f"the {role} server refuses more calls: the account is out of credit or quota ({said})",
                "add credit or raise the quota with the provider (billing), or wait for the quota to renew")
    if "ICTC_REASONING_ROOM" in message:  # models/pushback.py: the reasoning took the room as well
        return (f"the {role} '{model}' reasons longer than its token cap allows ({said})",
                "raise ICTC_REASONING_ROOM, or switch the model's thinking off on the server")
    if found_in(exc) == HTML_PAGE:  # models/bodies.py: a sign-in page or proxy answered, not the model server
        return (f"{how}: {message}", HTML_PAGE_FIX)
    if found_in(exc) == "server_cap" or SERVER_CAP in message:  # models/answers.py: cut far below the cap asked
        return (_cut_by_server(role, message, found_fields(exc)), SERVER_CAP_FIX)
    if _DATA_POLICY.search(message):
        return (f"no provider of the {role} '{model}' fits the account's data policy ({said})",
                "change the privacy settings the message names, or give another model")
    if _NO_MEMORY.search(message):
        return (f"the server has too little memory for the {role} '{model}' ({said})",
                f"free memory on the server, or give {flag} a smaller model")
    if _NOT_LOADED.search(message):
        return (f"the {role} server has no model loaded ({said})",
                f"load '{model}' on the server (LM Studio: the developer page, or `lms load`)")
    if _NO_ACCESS.search(message):  # a 403 that is no key problem: the key works, the model is not its project's
        return (f"the API key's project has no access to the {role} '{model}' ({said})",
                f"give {flag} a model the project may use, or grant the project access to it")
    if _NO_IMAGES.search(message):
        return (f"the server takes no images for the {role} '{model}' ({said})",
                f"give {flag} a vision model, or start the server with the model's vision projector "
                "(llama.cpp: --mmproj FILE)")
    if status == 403 and _html_page(exc):  # Cloudflare Access, a corporate proxy: the key never reached the API
        server = _server_of(exc)
        return (f"access to the {role} server{f' at {server}' if server else ''} was blocked in front of it by a proxy "
                f"or access gate, which answered with its own page ({said})",
                "get through that gate as its page says (sign-in, an allowed network, an access token), or give "
                "--base-url an address that reaches the server directly; the API key was not the problem")
    if status in (401, 403) or _BAD_KEY.search(message):
        return (f"the server refused the API key ({said})",
                "set OPENAI_API_KEY (environment or .env) to a key this server accepts")
    if status == 404 or UNKNOWN_MODEL.search(message):
        return (f"the server does not serve the {role} '{model}' ({said})", unknown_model_fix(flag, model, message))
    # "the settings named there" only when the server's words name some (a proxy's 502 page names none)
    fix = "fix the server or the settings named there" if _NAMES_SETTINGS.search(message) else \
        "fix the server (its log says why it answered so)"
    return (f"{how}{'' if single else ' the same way'} ({said})", fix)


def _cut_by_server(role: str, message: str, fields: dict[str, int]) -> str:
    """The cause said of answers cut at a cap of the server's own (models/answers.unusable_answer's stand-in, its
    `message` and `fields`: "cut_at" tokens of the "asked"): what happened, in words; it had read "HTTP 400 the
    server cut the answer ...", a status the server never sent."""
    used, cap = fields.get("cut_at"), fields.get("asked")
    if used is None or cap is None:  # a stand-in without the counts: its words said as they are
        return f"the {role} server cuts every answer short, at a cap of its own ({message})"
    return (f"the {role} server cuts every answer short, at a cap of its own: it answered (HTTP 200, finish_reason "
            f"length), but the answer was cut at {used} token{'s' if used != 1 else ''} by the server, "
            f"of the {cap} ictc asked for")


class FailureWatch:
    """Per step: outcomes so far; raises SystematicFailureError at once for a refusal of the account (a spent quota,
    no credit, a refused key: `_account_refused`), when the first FIRST_FEW model-call
    failures are identical and nothing succeeded, or when LATER_STREAK identical failures come in a row
    with no success between them (outcomes in the order their batches are recorded; a batch with any
    success ends a streak). Failures about one request (its length, its image: models/quirks.PER_REQUEST)
    never count. Thread-safe: a step's tasks run in parallel."""

    def __init__(self) -> None:
        self._ok: dict[str, int] = {}
        self._failed: dict[str, list[str]] = {}
        self._streak: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.stopped: SystematicFailureError | None = None  # once set, no model call of the run starts
        self._first: dict[str, list[tuple[str, str, bool]]] = {}  # step -> its first answers (image, words, blind)

    def check(self) -> None:
        """Raises the step's SystematicFailureError again once a step stopped (calls already waiting for
        a slot must not be paid for)."""
        if self.stopped is not None:
            raise SystematicFailureError(self.stopped.step, self.stopped.cause, self.stopped.fix)

    def record(self, step: str, role: str, model: str, errors: list[BaseException], successes: int) -> None:
        """Adds one batch's outcomes of `step` (run by the `role` model named `model`); raises
        SystematicFailureError (naming cause and fix) when the step fails systematically."""
        counted = [e for e in errors if not PER_REQUEST.search(_status_and_message(e)[1])]
        with self._lock:
            self._ok[step] = self._ok.get(step, 0) + successes
            seen = self._failed.setdefault(step, [])
            signatures = [signature(e) for e in counted]
            seen.extend(signatures)
            streak = self._streak[step] = [] if successes else self._streak.get(step, []) + signatures
            first = self._ok[step] == 0 and len(seen) >= FIRST_FEW and len(set(seen[:FIRST_FEW])) == 1
            later = len(streak) >= LATER_STREAK and len(set(streak[-LATER_STREAK:])) == 1
        # a spent quota, no credit or a refused key is the account's, not the image's: every call after it fails too
        # (a daily free quota had been tried on 3 more images, each waited out, before the run stopped; a key that
        # expired mid-Step 2a had failed the step's other images one by one, and Step 2b ran on the labels made)
        spent = [e for e in counted if _account_refused(e)]
        if (first or later or spent) and counted:
            how = "" if first else f"the last {LATER_STREAK} calls all failed"
            cause, fix = diagnose((spent or counted)[-1], role, model, how)
            self.stopped = SystematicFailureError(step, cause, fix)
            self.check()

    def done_before(self, done: dict[str, int]) -> None:
        """Counts, per step name, the images an earlier pass finished (`done`) as successes: a resume that retries
        only a finished run's failed images must not stop on their failing again as if nothing had ever succeeded
        (it had said "the first 3 model calls all failed the same way ... fix the server", exit 3, where the
        images' own failure, said as "failed again", exit 4, was due)."""
        with self._lock:
            for step, n in done.items():
                self._ok[step] = self._ok.get(step, 0) + n

    def seen_before(self, step: str, answers: list[tuple[str, str, bool]]) -> None:
        """Counts Step 1's answers an earlier pass of the run got from the same VLM (as `seen` takes them; the image
        by its content) as the step's first answers, so that a Continue is judged on the run's answers, not only on
        its own: its first four answers alike (the remaining images of one kind) had stopped it as "does not seem to
        receive the images" though the earlier pass's answers differed. Raises nothing: `seen` judges."""
        with self._lock:
            self._add_first(step, answers)

    def _add_first(self, step: str, answers: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
        first = self._first.setdefault(step, [])
        for image, text, blind in answers:
            if len(first) < SAME_FEW and image not in {i for i, _, _ in first}:
                first.append((image, " ".join(text.split()), blind))
        return list(first)

    def seen(self, step: str, model: str, answers: list[tuple[str, str, bool]]) -> None:
        """Adds Step 1's answers of one batch, each (what the image looks like: copies look alike, its text, True when
        it says it sees no image); raises SystematicFailureError when the VLM `model` does not seem to receive the
        images: the step's first FIRST_FEW answers all say it sees none, or its first SAME_FEW answers for different
        looking images are one same text. Why: a
        text-only model behind the endpoint answered "I don't see any image attached" (or one invented description)
        for every image; the run ended with exit 0, every image in one cluster, the cause unsaid."""
        with self._lock:
            window = self._add_first(step, answers)
        blind = len(window) >= FIRST_FEW and all(b for _, _, b in window[:FIRST_FEW])
        same = len(window) >= SAME_FEW and len({t.lower() for _, t, _ in window}) == 1
        if not (blind or same):
            return
        said = clipped(window[0][1], 120)
        how = (f"its first {FIRST_FEW} answers say it sees no image ('{said}')" if blind else
               f"it gave one same description for {SAME_FEW} different images ('{said}')")
        cause = f"the VLM '{model}' does not seem to receive the images (a model without vision, or no projector): {how}"
        self.stopped = SystematicFailureError(step, cause, BLIND_FIX)
        self.check()
