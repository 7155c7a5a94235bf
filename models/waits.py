"""How long a busy server asks to be left alone, and the 429s no wait helps (models/pushback.py waits the rest
out): a wait longer than the whole patience (a spent daily limit said by `Retry-After: 86400` alone) and a request
too large for the rate limit itself ("Request too large ... must be reduced") fail at once, said as what they are."""

from __future__ import annotations

import email.utils
import re
import time
from typing import Any

from ictc.models.stop_check import STOP_CHECK

# the header a 429 answer gets when the wait it asked for is longer than ICTC_BUSY_PATIENCE: the seconds asked,
# read by the stop's words (nodes/watch.py: "asked to wait 1 day"), where "fix the server" had been said
ASKED_WAIT = "x-ictc-asked-wait"
# a 429 for a request that can never pass the limit: OpenAI's "Request too large for gpt-4o-mini ... on tokens per
# min (TPM): Limit 30000, Requested 41250. The input or output tokens must be reduced", Groq's "... please reduce
# your message size"; waited out it had been sent 35 times over 300 s
TOO_LARGE = re.compile(rb"request too large|must be reduced|reduce (the|your) (message|request|input|prompt)",
                       re.IGNORECASE)


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked to wait: `retry-after-ms` (OpenAI), else `Retry-After` as seconds or a date."""
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None  # unreadable: back off instead


def too_large(body: bytes) -> bool:
    """True when a 429's `body` says the request itself is over the rate limit (TOO_LARGE): no wait helps."""
    return bool(TOO_LARGE.search(body))


def duration(seconds: float) -> str:
    """`seconds` in words a user reads: "45 s", "12 min", "3 h", "1 day", "2 days"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 20 * 3600:
        return f"{seconds / 3600:.0f} h"
    days = round(seconds / 86400)
    return f"{days} day{'s' if days > 1 else ''}"


def asked_wait(exc: BaseException) -> float | None:
    """The seconds a 429 behind the failure `exc` asked to wait when that was longer than the patience (ASKED_WAIT),
    else None."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    try:
        return float(headers[ASKED_WAIT]) if headers is not None and ASKED_WAIT in headers else None
    except (TypeError, ValueError):
        return None


def sleep_unless_stopped(seconds: float) -> None:
    """Sleep `seconds`, in slices of 0.2 s, raising what the model call's stop check raises (a stop request)."""
    check = STOP_CHECK.get()
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        check()
        time.sleep(min(0.2, left))
    check()
