"""Endpoint calls without LangChain's or the openai SDK's per-call machinery: ChatOpenAI's request body,
posted as a plain dict through its busy-aware HTTP client (`python -m bench.client_cost`)."""

from __future__ import annotations

import contextvars
import functools
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models import base as lc_openai
from openai.types.chat import ChatCompletion

from ictc.models.answers import normalize_answer
from ictc.models.bodies import body_answer
from ictc.models.pushback import BusyAwareClient, retry_after
from ictc.models.replicas import http

# The openai SDK's retry policy (openai/_base_client.py): which answers are retried, and the backoff.
RETRY_STATUS = (408, 409, 429)  # and every 5xx
BACKOFF_START, BACKOFF_MAX, RETRY_AFTER_MAX = 0.5, 8.0, 60.0
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
_PROBE = [SystemMessage("s"), HumanMessage([{"type": "text", "text": "t"},
                                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]),
          AIMessage("a"), HumanMessage("h")]


def plain_messages(messages: list[BaseMessage]) -> list[dict[str, Any]] | None:
    """OpenAI chat messages for LangChain system/human/AI messages whose content is text or text and
    image_url blocks (all the steps send); None for anything else (tool calls, names, other blocks)."""
    out = []
    for message in messages:
        role = _ROLES.get(message.type)
        # tool_calls only on AI messages: on the others pydantic's __getattr__ raised and caught an
        # AttributeError for every message of every call
        if role is None or message.additional_kwargs or message.name or (role == "assistant" and message.tool_calls):  # type: ignore[attr-defined]
            return None
        content = message.content
        if isinstance(content, list) and not all(
                isinstance(part, dict) and part.get("type") in ("text", "image_url") for part in content):
            return None
        out.append({"content": content, "role": role})
    return out


class DirectChat:
    """invoke/batch as the graph nodes use them on a chat model, sent straight through `chat`'s HTTP client.
    `chat`: a configured ChatOpenAI (model, temperature, seed, timeout, retries, http client).

    Per call, what is skipped: LangChain's callback manager and run tree, its message conversion (the
    steps' plain messages are converted here, checked once against ChatOpenAI's own conversion), the
    openai SDK's request options, typed transform and response model, a second JSON pass over the
    body in the busy-aware client, and the HTTP client's own per-request layers (the request is handed to
    urllib3's pool, models/wire.py, or its transport: `BusyAwareClient._send_direct`). What is kept: ChatOpenAI's request fields (worked out once per set of
    call options), the openai client's headers and timeout, its retries (`max_retries`, the same
    statuses, Retry-After and backoff), the busy-server gate, replicas and server quirks of the HTTP
    client (models/pushback.py, models/replicas.py), and ChatOpenAI's error classes (OpenAIAPIError,
    OpenAITimeoutError, ...), so failures read the same in results.json. Without a busy-aware HTTP client
    (or should the SDK's internals change) a call goes through the openai client's own `post`."""

    def __init__(self, chat: ChatOpenAI):
        self.chat = chat
        self.model_name = chat.model_name
        self.http_client = chat.http_client
        self._sender = self.http_client if isinstance(self.http_client, BusyAwareClient) else None
        self._fields: dict[str, dict[str, Any]] = {}  # call options (as JSON) -> ChatOpenAI's request fields
        self._lock = threading.Lock()
        self._fast = plain_messages(_PROBE) == chat._get_request_payload(_PROBE)["messages"]  # noqa: SLF001
        self._url, self._headers = "", {}
        if self._sender is not None:
            try:
                from openai._models import FinalRequestOptions

                probe = chat.root_client._build_request(  # noqa: SLF001 (the SDK's own headers and URL)
                    FinalRequestOptions.construct(method="post", url="/chat/completions", json_data={}))
                self._url = str(probe.url)
                self._headers = {k: v for k, v in probe.headers.items()
                                 if k not in ("host", "content-length", "x-stainless-retry-count")}
            except Exception:  # noqa: BLE001 (an SDK without these internals: its own post below)
                self._url = ""

    def invoke(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        """One chat completion for `messages` (LangChain messages; image blocks as OpenAI image_url).
        `kwargs`: request fields (max_tokens, stop, response_format, logprobs, ...). Returns the answer as
        an AIMessage (content "" when the server sent none; response_metadata: finish_reason, model_name,
        logprobs when asked). Raises ChatOpenAI's openai error classes."""
        body = self._body(messages, kwargs)
        try:
            data = self._post(self._sender, body) if self._sender is not None and self._url else self._post_by_sdk(body)
        except openai.BadRequestError as exc:
            lc_openai._handle_openai_bad_request(exc)  # noqa: SLF001 (raises the class ChatOpenAI raises)
            raise
        except openai.APIError as exc:
            lc_openai._handle_openai_api_error(exc)  # noqa: SLF001
            raise
        normalize_answer(data)  # a list of content parts (Mistral), an answer left in the reasoning field
        choice = (data.get("choices") or [{}])[0] or {}
        content = (choice.get("message") or {}).get("content")
        metadata = {"finish_reason": choice.get("finish_reason"), "model_name": data.get("model", self.model_name)}
        if choice.get("logprobs") is not None:
            metadata["logprobs"] = choice["logprobs"]
        return AIMessage(content=content if isinstance(content, str) else "", response_metadata=metadata)  # no answer: the nodes fail the image

    def batch(self, conversations: list[list[BaseMessage]], **kwargs: Any) -> list[AIMessage]:
        """`invoke` for each conversation, at once from threads (each in a copy of the caller's context, so
        a stop request reaches a wait on a busy server); answers in order; the first error is raised."""
        if len(conversations) == 1:
            return [self.invoke(conversations[0], **kwargs)]
        with ThreadPoolExecutor(min(len(conversations), 16)) as pool:
            futures = [pool.submit(contextvars.copy_context().run, functools.partial(self.invoke, c, **kwargs))
                       for c in conversations]
            return [future.result() for future in futures]

    def _body(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        """ChatOpenAI's request body for `messages` and the call options `kwargs`."""
        converted = plain_messages(messages) if self._fast else None
        if converted is None:
            return self.chat._get_request_payload(messages, **kwargs)  # noqa: SLF001 (ChatOpenAI's own body)
        options = json.dumps(kwargs, sort_keys=True, default=repr)
        fields = self._fields.get(options)
        if fields is None:  # once per set of options: how ChatOpenAI names and fills its fields
            fields = self.chat._get_request_payload([HumanMessage("")], **kwargs)  # noqa: SLF001
            fields.pop("messages")
            with self._lock:
                self._fields[options] = fields
        return {**fields, "messages": converted}

    def _post(self, sender: BusyAwareClient, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` through `sender`, retried as the openai client retries; the answer's JSON. Raises the openai
        client's errors (APIStatusError subclasses, APITimeoutError, APIConnectionError)."""
        client = self.chat.root_client
        retries = client.max_retries
        for attempt in range(retries + 1):
            headers = {**self._headers, "x-stainless-retry-count": str(attempt)}
            try:
                response, answer = sender.send_chat(self._url, headers, body)
            except http.TimeoutException as exc:
                if attempt < retries:
                    _sleep_backoff(attempt, None)
                    continue
                raise openai.APITimeoutError(request=exc.request) from exc
            except http.TransportError as exc:
                if attempt < retries:
                    _sleep_backoff(attempt, None)
                    continue
                raise openai.APIConnectionError(request=exc.request) from exc
            if response.status_code < 400:
                # not read as JSON by the client: read here in its charset, an event stream in any content type; an
                # empty body, a JSON value that is no object or an HTML page becomes a stand-in error (models/bodies.py)
                read = answer if answer is not None else body_answer(response)
                if isinstance(read, dict):
                    return read
                response = read
            if attempt < retries and client._should_retry(response):  # noqa: SLF001 (the SDK's rule, as is)
                response.close()
                _sleep_backoff(attempt, response.headers)
                continue
            response.read()
            raise client._make_status_error_from_response(response)  # noqa: SLF001
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _post_by_sdk(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.chat.root_client.post("/chat/completions", body=body, cast_to=ChatCompletion)
        return response.model_dump()


def _sleep_backoff(attempt: int, headers: Any) -> None:
    """The openai client's wait before retry `attempt + 1`: the server's Retry-After when it is at most
    60 s, else 0.5 s doubling per attempt up to 8 s, less a random 0-25%."""
    asked = retry_after(headers) if headers is not None else None
    if asked is not None and 0 < asked <= RETRY_AFTER_MAX:
        time.sleep(asked)
        return
    time.sleep(min(BACKOFF_START * 2 ** attempt, BACKOFF_MAX) * (1 - 0.25 * random.random()))  # noqa: S311


def hot_path(chat: ChatOpenAI) -> Any:
    """The model the runtime context gets for `chat` (factory.py): DirectChat around it. A bench may
    replace this function to compare with ChatOpenAI itself (bench/throughput.py --clients langchain)."""
    return DirectChat(chat)
