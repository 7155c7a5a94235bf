"""Proxies from the environment (models/proxies.py), a sixth break-it round's k29: ALL_PROXY=socks5://... without
the `socksio` package had ended every run as "internal error (a bug...)" before any work, even for a server on
127.0.0.1; and "cannot reach" did not say the calls went through a proxy."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ictc.cli import main
from ictc.core.errors import ModelUnavailableError
from ictc.models import factory

from fake_server import FakeOpenAIServer

pytestmark = pytest.mark.skipif(importlib.util.find_spec("socksio") is not None,
                                reason="socksio installed: the SOCKS proxy is usable")


@pytest.fixture
def socks_shell(monkeypatch):
    """A shell as Clash or V2Ray leave it: ALL_PROXY to a local SOCKS port (nothing listens there), no NO_PROXY."""
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:7890")
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "1")


def _run(server: FakeOpenAIServer, colour_images: list, out: Path) -> int:
    images = Path(colour_images[0][0]).parent
    return main(["run", str(images), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "1"])


def test_a_socks_proxy_the_client_cannot_use_is_one_line_naming_the_variable_and_the_ways_out(
        socks_shell, colour_images, tmp_path, capsys):
    with FakeOpenAIServer() as server:
        assert _run(server, colour_images, tmp_path / "out") == 3
    said = capsys.readouterr().err.strip()
    assert "internal error" not in said and len(said.splitlines()) == 1
    assert "ALL_PROXY=socks5://127.0.0.1:7890" in said and "pip install 'httpx[socks]'" in said
    assert "NO_PROXY=127.0.0.1" in said


def test_a_socks_proxy_for_other_hosts_does_not_stop_a_run_on_a_host_it_exempts(
        socks_shell, colour_images, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with FakeOpenAIServer() as server:
        assert _run(server, colour_images, tmp_path / "out") == 0
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())["clusters"]) == 3


def test_cannot_reach_names_the_proxy_the_calls_go_through(monkeypatch):
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(ModelUnavailableError) as caught:
        factory._check_endpoint("vlm", "m", "http://llm.corp.invalid/v1", "", 2)
    assert "cannot reach http://llm.corp.invalid/v1" in str(caught.value)
    assert "(through the proxy HTTP_PROXY=http://127.0.0.1:9)" in str(caught.value)
