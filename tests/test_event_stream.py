"""Answers sent as an event stream to a `stream: false` request (models/event_stream.py)."""

from __future__ import annotations

import json

import pytest

from ictc.models.event_stream import parsed_answer, stream_answer


def _chunk(delta: dict, finish: str | None = None, **extra: object) -> bytes:
    event = {"id": "c", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def test_chunks_are_joined_into_one_message_comments_and_done_skipped():
    body = (b": OPENROUTER PROCESSING\n\n" + _chunk({"role": "assistant", "content": ""})
            + _chunk({"reasoning_content": "hm"}) + _chunk({"content": "a red "}) + b": keep-alive\n\n"
            + _chunk({"content": "square"}) + _chunk({}, "stop", usage={"total_tokens": 3}) + b"data: [DONE]\n\n")
    answer = stream_answer(body)
    assert answer is not None and answer["object"] == "chat.completion" and answer["usage"] == {"total_tokens": 3}
    assert answer["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "a red square", "reasoning_content": "hm"}}]


def test_a_json_body_followed_by_done_is_the_json():
    whole = {"choices": [{"index": 0, "message": {"content": "Red"}, "finish_reason": "stop"}]}
    assert stream_answer(json.dumps(whole, indent=1).encode() + b"\n\ndata: [DONE]\n\n") == whole


@pytest.mark.parametrize("body", [b'{"choices": [ this is not json', b"data: {\"error\": {\"message\": \"boom\"}}\n\n",
                                  b"data: [DONE]\n\n", b"hello\ndata: {}\n\n"])
def test_what_carries_no_chat_completion_is_none(body):
    assert stream_answer(body) is None


def test_an_unreadable_stream_is_said_plainly_and_other_bodies_keep_their_json_error():
    with pytest.raises(ValueError, match=r"event stream \(SSE\) holding no chat completion.*stream: false"):
        parsed_answer(b": keep-alive\n\ndata: [DONE]\n\n")
    with pytest.raises(json.JSONDecodeError):
        parsed_answer(b'{"choices": [ this is not json')
