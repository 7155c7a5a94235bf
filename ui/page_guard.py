"""What the page says when drawing a part of it fails. A bad setting (.env, the environment, `ictc ui`'s flags) is
the one error blamed on the settings: nothing can work until it is fixed. Any other error is said as what failed, in
one line naming the file or value where it is known, in the part that failed: the rest of the page, the session and
its runs stay (a run folder gone from the Versions tab had read "ictc cannot start ... Fix it in .env")."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ictc.core.errors import UsageError

log = logging.getLogger(__name__)


class BadSettings(UsageError):
    """A setting `ictc ui` was started with that cannot be used; the message is one line naming it and its value."""


def failure_line(exc: Exception) -> str:
    """`exc` as one line for the page: a UsageError's own line; an OSError's reason and file ("No such file or
    directory: /runs/run-1/run.json"); anything else (a bug) its kind and the first line of its message."""
    if isinstance(exc, UsageError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.filename:
        text = f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    else:
        text = f"{type(exc).__name__}: {str(exc) or 'no message'}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


@contextmanager
def guarded(part: str) -> Iterator[None]:
    """Draws the block inside; an error there (other than BadSettings, left to the page's top) is said in one line
    where `part` ("the results", "the sidebar") would have been, with what failed; a bug's traceback behind a Details
    expander (and in the log). Streamlit's own rerun and stop pass through: they are not Exceptions."""
    try:
        yield
    except BadSettings:
        raise
    except Exception as exc:  # noqa: BLE001 (said on the page: the session and its runs are kept)
        st.error(f"Could not show {part}: {failure_line(exc)}. Your chat and runs are kept; reload the page to try "
                 "again.")
        if not isinstance(exc, (UsageError, OSError)):  # a bug: its traceback for whoever reports it
            log.exception("drawing %s failed", part)
            with st.expander("Details"):
                st.exception(exc)
