"""The busy-server gate and wait (models/pushback.py): calls in flight fit what the server takes, a 429
is waited out, and a stop request ends the wait."""

from __future__ import annotations

import email.utils
import threading
import time

import httpx
import pytest

from ictc.models.pushback import BusyAwareClient, InFlightGate, retry_after
from ictc.models.stop_check import STOP_CHECK
from ictc.nodes.context import StopRequested

from fake_server import FakeOpenAIServer


def test_a_pushback_cuts_the_cap_once_per_round_trip_and_successes_raise_it_back():
    gate = InFlightGate(8)
    sent = [gate.enter() for _ in range(8)]
    for sent_at in sent:  # 8 requests sent together all come back 429: one cut, not eight
        gate.leave(sent_at, "busy")
    assert gate.limit == 6 and gate.pushbacks == 8
    later = gate.enter()
    gate.leave(later, "busy")  # sent after the cut: news, so a second cut
    assert gate.limit == 4
    for _ in range(40):
        gate.leave(gate.enter(), "ok")
    assert gate.limit == 8  # back to the ceiling, never above
    gate.leave(gate.enter(), "error")  # a failure that is not a 429 says nothing of load
    assert gate.limit == 8


def test_the_cap_never_drops_below_one_call():
    gate = InFlightGate(4)
    for _ in range(20):
        gate.leave(gate.enter(), "busy")
    assert gate.limit == 1
    gate.leave(gate.enter(), "ok")
    assert gate.in_flight == 0


def test_a_full_gate_holds_a_request_until_one_leaves():
    gate = InFlightGate(1)
    first = gate.enter()
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: (gate.enter(), entered.set()))
    waiter.start()
    assert not entered.wait(0.3)
    gate.leave(first, "ok")
    assert entered.wait(5)
    waiter.join()


def test_retry_after_reads_milliseconds_seconds_and_dates():
    assert retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after(httpx.Headers({"retry-after": date})) <= 30
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx.Headers({})) is None


def test_a_stop_request_ends_a_wait_on_a_busy_server():
    stop = threading.Event()

    def check() -> None:
        if stop.is_set():
            raise StopRequested("stop requested")

    with FakeOpenAIServer(fault=lambda body, n: "429") as server:
        client = BusyAwareClient(InFlightGate(2), patience=300, base_url=server.url)
        token = STOP_CHECK.set(check)
        try:
            threading.Timer(0.5, stop.set).start()
            started = time.monotonic()
            with pytest.raises(StopRequested):
                client.post("/chat/completions", json={"model": "vision-model", "messages": []})
            assert time.monotonic() - started < 3  # not the 300 s of patience
        finally:
            STOP_CHECK.reset(token)
            client.close()
        assert len(server.requests) >= 1


def test_a_model_call_hands_its_stop_check_to_the_http_client():
    from fakes import fake_context

    ctx = fake_context()
    ctx.stop = threading.Event()
    with ctx.model_call():
        check = STOP_CHECK.get()
        check()  # not stopped yet: returns
        ctx.stop.set()
        with pytest.raises(StopRequested):
            check()
    STOP_CHECK.get()()  # outside a model call: the default, which never stops
