"""The openai SDK's error for a server's answer, as the endpoint client raises it (models/direct_chat.py)."""

from __future__ import annotations

import httpx2  # the HTTP package the openai SDK (3.x) is built on
import openai


def sdk_error(response: httpx2.Response) -> openai.APIStatusError:
    """The APIStatusError subclass the openai SDK raises for `response` (an error status; its request's URL gives the
    client's base URL)."""
    base = str(response.request.url).split("/chat/completions")[0]
    return openai.OpenAI(api_key="x", base_url=base)._make_status_error_from_response(response)
