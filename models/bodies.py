"""2xx bodies that hold no chat completion object, said as what they are: an empty body (a buffering proxy's
glitch: retried as a 5xx), broken JSON (cut off on its way: retried as a 5xx), a JSON value that is no object (`null`, `[]`, `"ok"`: retried as a 5xx), an HTML page
(a sign-in page or proxy in front of the server: a clear stop naming its title); and a body in a declared charset
other than UTF-8 read in that charset. They had crashed the run (AttributeError on `null`), failed images as
"JSONDecodeError: Expecting value" without a retry, or stored descriptions with U+FFFD for each accented letter."""

from __future__ import annotations

import codecs
import email.message
import json
from typing import Any

from ictc.models.event_stream import parsed_answer
from ictc.models.html_page import html_page_said, looks_like_html
from ictc.models.quirks import FOUND, error_response, status_response

HTML_PAGE = "html_page"  # the stand-in's kind (models/quirks.found_in) for an HTML page where JSON was due


def declared_charset(content_type: str) -> str:
    """The codec name of the charset `content_type` (a Content-Type header) declares, "" for none, UTF-8 or one
    Python does not know (then UTF-8 is read, as JSON's own rule says)."""
    header = email.message.Message()  # the stdlib's reading of a MIME header's parameters (quotes, case)
    header["Content-Type"] = content_type or ""
    if not (declared := header.get_content_charset()):
        return ""
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return ""
    return "" if name in ("utf-8", "utf-8-sig") else name


def as_utf8(body: bytes, content_type: str) -> bytes:
    """`body` re-encoded as UTF-8 when `content_type` declares another charset (`application/json;
    charset=ISO-8859-1`: "café" had become "caf\\ufffd"); as it is otherwise, or when it does not decode so."""
    charset = declared_charset(content_type)
    if not charset:
        return body
    try:
        return body.decode(charset).encode("utf-8")
    except (UnicodeDecodeError, LookupError):
        return body


def body_answer(response: Any) -> Any:
    """The chat completion of a 2xx `response` (httpx or models/wire.WireResponse) whose body the busy-aware client
    did not read as one: its JSON object (in its declared charset), or the chat completion of an event stream
    (models/event_stream.parsed_answer); else a stand-in error response (httpx) for its request: a 502 retried for an
    empty body, broken JSON (or any other text) or a JSON value that is no object, a 400 not retried naming an HTML
    page's title. Raises parsed_answer's ValueError for an event stream that holds no chat completion."""
    data = as_utf8(response.read(), response.headers.get("content-type", ""))
    try:
        answer = parsed_answer(data)
    except ValueError as error:
        text = data.decode("utf-8", "replace")
        if not text.strip():
            return _glitch(response, "the server answered with an empty body (no answer: it or a proxy in front of "
                                     "it dropped it)", "empty_body")
        if looks_like_html(text):
            return error_response(response.request, html_page_said(text), HTML_PAGE)
        # A body cut off by a proxy or a dropped connection is as passing as an empty one, so it is retried too;
        # a server that always sends it fails the image naming what it sent, not "Expecting value".
        if not isinstance(error, json.JSONDecodeError):
            raise  # an event stream that holds no chat completion: parsed_answer's own words say it
        return _glitch(response, f"the server answered with broken JSON ({_opening(text)}): cut off or not JSON",
                       "broken_json")
    if isinstance(answer, dict):
        return answer
    shown = json.dumps(answer)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return _glitch(response, f"the server answered with the JSON {shown}, not a chat completion object", "no_object")


def _opening(text: str) -> str:
    """The first 40 characters of a body `text`, quoted, with "..." when there is more."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 40 else flat[:37] + "...")


def _glitch(response: Any, said: str, kind: str) -> Any:
    """A 502 stand-in for `response`'s request, saying `said`, retried as a 5xx; FOUND names `kind`, so no status
    the server never sent is said of it (nodes/watch.py)."""
    return status_response(response.request, 502, {"error": {"message": said, "type": kind}}, retry=True,
                           headers={FOUND: kind})
