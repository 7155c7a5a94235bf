"""The proxy the environment sends a server's calls through (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, as httpx reads
them): named when the server cannot be reached, and a SOCKS proxy the HTTP client cannot use (no `socksio`, the
usual ALL_PROXY=socks5://... of Clash or V2Ray shells) said in one line with its ways out; it had ended the run
as an internal error before any work, even for a server on 127.0.0.1 that the proxy was never meant for."""

from __future__ import annotations

import importlib.util
import os
import urllib.request
from typing import Any
from urllib.parse import urlsplit


def proxy_for(url: str) -> tuple[str, str] | None:
    """(variable, value) of the environment proxy calls to `url` go through: `<scheme>_proxy`, else `all_proxy`
    (lower case first, as httpx), None when none is set or NO_PROXY exempts the host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 (not in typeshed, documented since 3.x)
    if bypass(f"{host}:{parts.port}" if parts.port else host):
        return None
    for name in (f"{parts.scheme}_proxy", "all_proxy"):
        for variable in (name, name.upper()):
            if value := os.environ.get(variable, "").strip():
                return variable, value
    return None


def proxy_said(url: str) -> str:
    """" (through the proxy ALL_PROXY=socks5://...)" when an environment proxy applies to `url`, else ""."""
    proxy = proxy_for(url)
    return f" (through the proxy {proxy[0]}={proxy[1]})" if proxy else ""


def _socks_unusable() -> list[tuple[str, str]]:
    """The (variable, value) of each SOCKS proxy set in the environment when the HTTP client cannot use one (the
    `socksio` package is missing); [] when it can, or none is set."""
    if importlib.util.find_spec("socksio") is not None:
        return []
    names = ("all_proxy", "http_proxy", "https_proxy")
    return [(v, value) for n in names for v in (n, n.upper())
            if (value := os.environ.get(v, "").strip()).lower().startswith("socks")]


def socks_problem(url: str) -> tuple[str, str] | None:
    """(reason, fix) when calls to `url` would go through a SOCKS proxy the HTTP client cannot use; else None."""
    proxy = proxy_for(url)
    if proxy is None or proxy not in _socks_unusable():
        return None
    host = urlsplit(url).hostname or ""
    return (f"{proxy[0]}={proxy[1]} sends its calls through a SOCKS proxy, and the 'socksio' package the HTTP client "
            "needs for one is not installed",
            f"pip install 'httpx[socks]', or unset {proxy[0]}, or add the server's host to NO_PROXY "
            f"(NO_PROXY={host})")


def client_proxy_options(urls: list[str]) -> dict[str, Any]:
    """Keyword arguments for an HTTP client of `urls` (none of them through an unusable SOCKS proxy:
    socks_problem) so that its construction does not fail on a SOCKS proxy set for other hosts: the environment
    not read (`trust_env` False), the one proxy that does apply to them given as it is. {} when nothing is needed."""
    if not _socks_unusable():
        return {}
    proxies = {proxy_for(url) for url in urls}
    options: dict[str, Any] = {"trust_env": False}
    if (one := next(iter(proxies))) is not None and len(proxies) == 1:
        options["proxy"] = one[1]
    return options
