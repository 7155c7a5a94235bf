"""The chat kept in each run folder (chat.json): the messages that led to the run and went on while it was a
session's current run, and the reading it was started with. Opening the run again (Recent runs, another browser)
shows its conversation; Recent runs names a run stopped before its results by that reading's criterion and K."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ictc.evaluation.outputs import write_json

if TYPE_CHECKING:
    from ictc.ui.conversation import Request

CHAT_FILE = "chat.json"
ROLES = ("user", "assistant")
_writing = threading.Lock()  # the sessions of one `ictc ui` answer in threads of their own: one merge-and-write at a time


def keep_chat(run_dir: Path, messages: list[dict[str, str]], reading: Request | None = None,
              base: list[dict[str, str]] | None = None, once: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Write `messages` (the chat, as Conversation.messages) to `run_dir`/chat.json with `reading` (the request
    the run was started with), or, without one, the reading the file already holds. With `base` (the file's messages
    as this session last read or wrote them), the messages another session (a second browser on the run) wrote to
    the file since are kept, before this session's new ones (merged_chat): the last save had won, the other's lost.
    `once` (a job's outcome, {"role", "text", "job": its id}) is added at the end unless a message of that job is there
    after the merge, checked and written in one step: two windows watching one job had both said its outcome.
    Returns the messages as written (`messages`, with `once` added as above, when nothing is written: the folder is
    gone, a first run refused at its start: ui/session_jobs.py reading_kept)."""
    if not run_dir.is_dir():
        return said_once(messages, once)
    path = run_dir / CHAT_FILE
    with _writing:
        if base is not None:
            messages = merged_chat(messages, read_chat(run_dir)[0], base)
        messages = said_once(messages, once)
        kept = asdict(reading) if reading is not None else _record(path).get("reading")
        write_json(path, {"reading": kept, "messages": messages})
    return messages


def said_once(messages: list[dict[str, str]], once: dict[str, str] | None) -> list[dict[str, str]]:
    """`messages` with `once` (a message naming its job: {"job": id, ...}) added at the end, unless None or a message
    of that job is among them already."""
    if once is None or any(m.get("job") == once["job"] for m in messages):
        return messages
    return [*messages, once]


def merged_chat(ours: list[dict[str, str]], theirs: list[dict[str, str]],
                base: list[dict[str, str]]) -> list[dict[str, str]]:
    """This session's chat `ours` with the messages the file's `theirs` has past what it shares with `base` (the file
    as this session last read or wrote it: the rest was written by another session since), put where `ours` leaves
    `base` (before this session's new messages). A message this session edited or dropped since `base` (a reply
    reworded, a repeated "Opened" line) is in `base`, so its old form is not taken back; two sessions' alike messages
    ("thanks") are both kept. Returns a new list."""
    added = theirs[_shared(theirs, base):]
    at = _shared(ours, base)
    return ours[:at] + added + ours[at:]


def _shared(messages: list[dict[str, str]], base: list[dict[str, str]]) -> int:
    """How many first messages `messages` and `base` have alike."""
    return next((n for n, (a, b) in enumerate(zip(messages, base, strict=False)) if a != b), min(len(messages), len(base)))


def drop_chat(run_dir: Path) -> None:
    """Remove `run_dir`/chat.json (if any), so that an empty run folder can be removed."""
    (run_dir / CHAT_FILE).unlink(missing_ok=True)


def read_chat(run_dir: Path) -> tuple[list[dict[str, str]], str]:
    """The messages kept in `run_dir`/chat.json, and "" or, when the file is there but cannot be used (not JSON,
    not a list of {"role": "user" | "assistant", "text": ...}), one line saying so and naming the file: the run
    then opens without its earlier chat. A run kept before chats were kept has no file: ([], "")."""
    path = run_dir / CHAT_FILE
    if not path.is_file():
        return [], ""
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return [], f"{path} could not be read ({str(exc).splitlines()[0][:80]})"
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("text"), str)
            and isinstance(m.get("detail", ""), str) for m in messages):
        return [], f"{path} does not hold a chat (a list of messages, each a role and a text)"
    return messages, ""


def started_reading(run_dir: Path) -> dict[str, Any]:
    """The reading `run_dir` was started with (a Request's fields: criterion, k, names, auto_k, other, ...), or {}
    when the run kept no chat (or an unreadable one)."""
    reading = _record(run_dir / CHAT_FILE).get("reading")
    return reading if isinstance(reading, dict) else {}


def reading_said(run_dir: Path) -> str:
    """The criterion and K `run_dir` was started with, as Recent runs shows them ("colour · K=3"; "K=auto" when K
    was to be proposed; K of the user's own categories), or "" when the run kept no chat (or an unreadable one)."""
    reading = started_reading(run_dir)
    if not reading.get("criterion"):
        return ""
    names = reading.get("names") or []
    k = len(names) if names else reading.get("k") or ("auto" if reading.get("auto_k") else "?")
    return f"{str(reading['criterion'])[:30]} · K={k}{' + other' if names and reading.get('other') else ''}"


def _record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
