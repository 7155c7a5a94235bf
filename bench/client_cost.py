"""Client CPU per endpoint call, one call at a time against the loopback endpoint at 0 latency: the
same Step-1 request (one image) by ChatOpenAI.invoke, by the openai SDK (`chat.completions.create`,
which runs its typed request transform), by the path ictc uses (models/direct_chat.py: ChatOpenAI's
request fields, posted as a dict through the busy-aware HTTP client that models/factory.py gives it:
gate, quirks, retries), and by plain httpx.

    python -m bench.client_cost --calls 200
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess


def cpu_ms(send: Callable[[], object], calls: int) -> float:
    """CPU milliseconds of this process per call of `send` (after 20 warm-up calls)."""
    for _ in range(20):
        send()
    started = time.process_time()
    for _ in range(calls):
        send()
    return 1000 * (time.process_time() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import openai
    from langchain_core.messages import convert_to_openai_messages
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from ictc.core.images import load_rgb, to_data_uri
    from ictc.models.direct_chat import DirectChat
    from ictc.models.quirks import ServerQuirks
    from ictc.models.replicas import ServerRegistry, http, replica_client
    from ictc.nodes.common import to_messages

    messages = to_messages([("system", "You describe images."), ("user", "Describe this image.")],
                           to_data_uri(load_rgb(make_photos(1)[0], 512)))
    with EndpointProcess(0.0, 64) as endpoint:
        chat = ChatOpenAI(model="bench-vlm", base_url=endpoint.url, api_key=SecretStr("not-needed"), temperature=0,
                          seed=0, max_retries=2)
        busy_aware = replica_client(ServerRegistry(64), [endpoint.url], 300.0, 120.0, ServerQuirks(endpoint.url, 2048))
        direct = DirectChat(ChatOpenAI(model="bench-vlm", base_url=endpoint.url, api_key=SecretStr("not-needed"),
                                       temperature=0, seed=0, max_retries=2, http_client=busy_aware))
        sdk = openai.OpenAI(base_url=endpoint.url, api_key="not-needed", max_retries=2)
        raw = http.Client()
        body = {"model": "bench-vlm", "messages": convert_to_openai_messages(messages), "max_completion_tokens": 160,
                "temperature": 0, "seed": 0}
        ways = {
            "ChatOpenAI.invoke": lambda: chat.invoke(messages, max_tokens=160),
            "openai chat.completions.create": lambda: sdk.chat.completions.create(
                model="bench-vlm", messages=convert_to_openai_messages(messages),  # type: ignore[arg-type]
                max_completion_tokens=160,
                temperature=0, seed=0),
            "DirectChat.invoke (ictc)": lambda: direct.invoke(messages, max_tokens=160),
            "plain httpx post": lambda: json.loads(raw.post(endpoint.url + "/chat/completions", json=body).content),
        }
        rows = []
        for repeat in range(args.repeats):
            for name, send in ways.items():
                rows.append({"client": name, "repeat": repeat + 1, "cpu_ms_per_call": cpu_ms(send, args.calls)})
                print(rows[-1], flush=True)
    save("client_cost", rows, f"{args.calls} serial calls each, endpoint latency 0, one image per request; "
                              "CPU time of the whole client process per call.")


if __name__ == "__main__":
    main()
