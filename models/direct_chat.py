"""Endpoint calls without LangChain's per-call machinery: ChatOpenAI's request body, sent by its own
openai client (client CPU per call 3.7-4.3 ms -> 2.5-3.0 ms, `python -m bench.client_cost`)."""

from __future__ import annotations

import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models import base as lc_openai
from openai.types.chat import ChatCompletion


class DirectChat:
    """invoke/batch as the graph nodes use them on a chat model, sent straight through `chat`'s openai
    client. `chat`: a configured ChatOpenAI (model, temperature, seed, timeout, retries, http client).

    What is skipped, per call: LangChain's callback manager and run tree, and the openai SDK's typed
    request transform (the body is already a plain dict). What is kept: the request body, retries with
    backoff, the busy-server gate in the HTTP client, and ChatOpenAI's error classes (OpenAIAPIError,
    OpenAITimeoutError, ...), so failures read the same in results.json."""

    def __init__(self, chat: ChatOpenAI):
        self.chat = chat
        self.model_name = chat.model_name
        self.http_client = chat.http_client

    def invoke(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        """One chat completion for `messages` (LangChain messages; image blocks as OpenAI image_url).
        `kwargs`: request fields (max_tokens, response_format, logprobs, ...). Returns the answer as an
        AIMessage (content "" when the server sent none; response_metadata["logprobs"] as ChatOpenAI gives
        it when the server sent log-probabilities). Raises ChatOpenAI's openai error classes."""
        payload = self.chat._get_request_payload(messages, **kwargs)  # noqa: SLF001 (ChatOpenAI's own body)
        try:
            response = self.chat.root_client.post("/chat/completions", body=payload, cast_to=ChatCompletion)
        except openai.BadRequestError as exc:
            lc_openai._handle_openai_bad_request(exc)  # noqa: SLF001 (raises the class ChatOpenAI raises)
            raise
        except openai.APIError as exc:
            lc_openai._handle_openai_api_error(exc)  # noqa: SLF001
            raise
        choice = response.choices[0] if response.choices else None
        content = choice.message.content if choice is not None else None
        # the first-token log-probabilities, where ChatOpenAI puts them (the calibrated Step-3 choice reads them)
        metadata = {"logprobs": choice.logprobs.model_dump()} if choice is not None and choice.logprobs else {}
        return AIMessage(content=content or "", response_metadata=metadata)  # no answer reads as an empty one

    def batch(self, conversations: list[list[BaseMessage]], **kwargs: Any) -> list[AIMessage]:
        """`invoke` for each conversation, at once from threads (each in a copy of the caller's context, so
        a stop request reaches a wait on a busy server); answers in order; the first error is raised."""
        if len(conversations) == 1:
            return [self.invoke(conversations[0], **kwargs)]
        with ThreadPoolExecutor(min(len(conversations), 16)) as pool:
            futures = [pool.submit(contextvars.copy_context().run, functools.partial(self.invoke, c, **kwargs))
                       for c in conversations]
            return [future.result() for future in futures]


def hot_path(chat: ChatOpenAI) -> Any:
    """The model the runtime context gets for `chat` (factory.py): DirectChat around it. A bench may
    replace this function to compare with ChatOpenAI itself (bench/throughput.py --langchain)."""
    return DirectChat(chat)
