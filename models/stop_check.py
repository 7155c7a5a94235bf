"""The stop check of the model call in progress, apart from the HTTP client (models/pushback.py), so that
the runtime context can set it without importing the openai SDK (a rename or merge runs no model call)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar


def _not_stopped() -> None:
    return None


# Set by nodes/context.py around each model call (it raises to stop), so that a wait on a busy server ends
# at a stop request. A ContextVar reaches the threads that LangChain's batch() runs calls in.
STOP_CHECK: ContextVar[Callable[[], None]] = ContextVar("ictc_stop_check", default=_not_stopped)
