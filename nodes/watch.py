"""Stopping early on a systematic failure: when the first few images of a step all fail with the same
error and none succeeded, every other image would fail too (issue 17, case 5), so the run stops with
one line naming the cause and the fix instead of paying for every image."""

from __future__ import annotations

import re
import threading

from ictc.core.errors import SystematicFailureError
from ictc.models.quirks import PER_REQUEST, error_of

FIRST_FEW = 3  # identical failures, with no success before them, that stop a step

_NO_IMAGES = re.compile(r"image input is not supported|does not support (image|vision|multimodal)|"
                        r"images? (are|is) not supported|no vision|mmproj|multimodal|not a vision|"
                        r"image_url.{0,40}not supported", re.IGNORECASE)
_UNKNOWN_MODEL = re.compile(r"model\b.{0,80}\b(not found|does not exist|unknown|not available|no such)|"
                            r"(unknown|no such) model|model_not_found", re.IGNORECASE | re.DOTALL)
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
    return status, " ".join(message.split())[:300]


def signature(exc: BaseException) -> str:
    """What makes two failures 'the same': the error type, status and message with numbers blanked."""
    status, message = _status_and_message(exc)
    return f"{type(exc).__name__} {status} {re.sub(r'[0-9]+', '#', message)}"


def diagnose(exc: BaseException, role: str, model: str) -> tuple[str, str]:
    """(cause, fix) in words for a failure seen on every image tried. role: "VLM" or "LLM"; model: its name."""
    status, message = _status_and_message(exc)
    said = f"{f'HTTP {status} ' if status else ''}{message or type(exc).__name__}"
    flag = f"--{role.lower()}"
    if _NO_IMAGES.search(message):
        return (f"the server takes no images for the {role} '{model}' ({said})",
                f"give {flag} a vision model, or start the server with the model's vision projector "
                "(llama.cpp: --mmproj FILE)")
    if status in (401, 403) or _BAD_KEY.search(message):
        return (f"the server refused the API key ({said})",
                "set OPENAI_API_KEY (environment or .env) to a key this server accepts")
    if status == 404 or _UNKNOWN_MODEL.search(message):
        return (f"the server does not serve the {role} '{model}' ({said})",
                f"give {flag} a name from the server's /models listing")
    return (f"the first {FIRST_FEW} images all failed the same way ({said})",
            "fix the server or the settings named there")


class FailureWatch:
    """Per step: outcomes so far; raises SystematicFailureError when the first FIRST_FEW model-call
    failures are identical and nothing succeeded. Failures about one request (its length, its image:
    models/quirks.PER_REQUEST) never count. Thread-safe: a step's tasks run in parallel."""

    def __init__(self) -> None:
        self._ok: dict[str, int] = {}
        self._failed: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.stopped: SystematicFailureError | None = None  # once set, no model call of the run starts

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
            seen.extend(signature(e) for e in counted)
            stop = self._ok[step] == 0 and len(seen) >= FIRST_FEW and len(set(seen[:FIRST_FEW])) == 1
        if stop and counted:
            cause, fix = diagnose(counted[0], role, model)
            self.stopped = SystematicFailureError(step, cause, fix)
            self.check()
