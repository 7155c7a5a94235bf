"""Loads or reaches every model named in settings before any work starts (local folders or endpoints)."""

from __future__ import annotations

import difflib
import json
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ictc.core.errors import ModelUnavailableError
from ictc.core.settings import Settings
from ictc.models.availability import local_model_problem
from ictc.models.choose import Chooser, LikelihoodChooser, PromptedChooser
from ictc.models.embed import TextEmbedder, make_embedder
from ictc.models.html_page import HTML_PAGE_FIX, html_page_said, looks_like_html
from ictc.models.proxies import client_proxy_options, proxy_said, socks_problem
from ictc.models.quirks import UNKNOWN_MODEL, error_of, unknown_model_fix
from ictc.models.structured import JsonCaller

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


@dataclass
class Models:
    """Every model a run uses, loaded: the fields of the runtime context that are models.

    vlm and llm are chat models with LangChain's invoke/batch (the VLM accepts OpenAI-style image
    blocks; endpoints: models/direct_chat.py); llm_json asks the LLM for JSON; chooser picks one of
    K names (Step 3); vlm_id and llm_id are the model names as given."""

    vlm: Any
    llm: Any
    llm_json: JsonCaller
    chooser: Chooser
    embedder: TextEmbedder
    vlm_id: str
    llm_id: str


def load_models(settings: Settings) -> Models:
    """The models `settings` names, loaded (backend "local") or reached (backend "openai").

    Raises ModelUnavailableError (one line naming the model and the ways out) when one is missing or
    its server cannot be reached; nothing is loaded then."""
    embedder = make_embedder(settings.embedder)
    if settings.backend == "local":
        return _local_models(settings, embedder)
    return _endpoint_models(settings, embedder)


def _local_models(settings: Settings, embedder: TextEmbedder) -> Models:
    from transformers.utils import logging as hf_logging

    from ictc.models.local import LocalChatModel, LocalLLM, LocalVLM

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    roles = (("vlm", settings.resolved_vlm()), ("llm", settings.resolved_llm()))
    missing = [(role, model, why) for role, model in roles if (why := local_model_problem(model))]
    if missing:  # name every missing model at once, before loading anything
        raise ModelUnavailableError(*missing[0], "local", more=missing[1:])
    vlm = LocalChatModel(engine=LocalVLM(settings.resolved_vlm(), settings.device, settings.seed))
    llm = LocalChatModel(engine=LocalLLM(settings.resolved_llm(), settings.device, settings.seed))
    return Models(vlm=vlm, llm=llm, llm_json=JsonCaller(llm, supports_response_format=False),
                  chooser=LikelihoodChooser(llm), embedder=embedder,
                  vlm_id=settings.resolved_vlm(), llm_id=settings.resolved_llm())


def split_query(base_url: str) -> tuple[str, str]:
    """(base URL without its query and trailing slash, the query) of `base_url`: an Azure deployment URL's
    `?api-version=...`, a gateway's `?key=...` goes on every request, after the endpoint's path (it had been glued
    before it: /v1?api-version=2024-10-21/chat/completions)."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(query="", fragment="")).rstrip("/"), parts.query


def at(base_url: str, path: str) -> str:
    """The URL of the endpoint `path` ("/models") under `base_url`, its query (split_query) kept at the end."""
    root, query = split_query(base_url)
    return f"{root}{path}{f'?{query}' if query else ''}"


def _bare(model_id: str) -> str:
    """A model name without its tag or case: Ollama lists `llava:latest` for `llava`."""
    return model_id.split(":", 1)[0].strip().lower()


def listed(model: str, served: list[str]) -> bool:
    """True when `model` is in the /models listing `served`: exactly, or without its `:latest` tag (Ollama
    lists `llava:latest` for `llava`). Case counts (vLLM's names are case-sensitive), and `llava` is not
    `llava:13b` (Ollama answers 404 for it): anything else is asked by a probe."""
    return model in served or (":" not in model and f"{model}:latest" in served)


def closest(model: str, served: list[str], n: int = 3) -> list[str]:
    """The listed ids nearest to `model` by spelling (difflib), else the first few listed."""
    by_bare = {_bare(s): s for s in served}
    near = difflib.get_close_matches(_bare(model), list(by_bare), n=n, cutoff=0.4)
    return [by_bare[b] for b in near] or served[:n]


def _request(url: str, api_key: str, timeout: float, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    """(status, body) of one GET (no `body`) or JSON POST; raises URLError/OSError when nothing answers."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# at start-up the probe's only question is the name: "model ... invalid" is about it too (not so mid-run)
_NAME_INVALID = re.compile(r"model\b.{0,80}\binvalid", re.IGNORECASE | re.DOTALL)


def _check_endpoint(role: str, model: str, base_url: str, api_key: str, timeout: float) -> None:
    """Fail fast with one clear line when the server is down or does not serve the model.

    The /models listing is advice, not a veto: a listed name (also `llava` for `llava:latest`) is taken;
    else (an empty or missing listing too) one probe of one token is sent, and a server that answers it is taken (llama.cpp lists one alias
    and answers any name); only a probe refused as an unknown model (404, or an error naming the model)
    refuses, naming the closest listed ids. Raises ModelUnavailableError: _Unreached when nothing answers."""
    listing_status = 0
    try:
        listing_status, data = _request(at(base_url, "/models"), api_key, timeout)
        listed_ok = listing_status < 400
        listing = json.loads(data or b"{}") if listed_ok else {}
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Unreached(role, model, base_url, f"{reason}{proxy_said(base_url)}", _certificate_fix(reason)) from exc
    except ValueError:
        listing = {}
    data_list = listing.get("data", []) if isinstance(listing, dict) else []
    served = [str(m.get("id")) for m in data_list if isinstance(m, dict) and m.get("id")]
    if listed(model, served):
        return  # an empty or missing listing is no answer: the probe below asks (a misspelt name had been found
        # only at Step 2a, after every Step-1 call)
    probe = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    try:
        status, data = _request(at(base_url, "/chat/completions"), api_key, timeout, probe)
    except (urllib.error.URLError, TimeoutError, OSError):
        return  # the listing answered: the run's own calls will say what is wrong
    message = error_of(data)[0] if status >= 400 else ""
    if status == 404 == listing_status and not UNKNOWN_MODEL.search(message):
        # neither endpoint is there, and no word of a model: the path is wrong (Ollama's root without /v1), not
        # the name (the stop had said "give --vlm a name the server serves")
        raise ModelUnavailableError(role, model, f"{base_url} answers 404 Not Found at /models and /chat/completions: "
                                    "it serves no OpenAI-compatible API at that path", "openai",
                                    fix=_path_fix(base_url, api_key, timeout))
    if looks_like_html(page := data.decode("utf-8", "replace")):  # a sign-in page or proxy, not the API: said here as a
        # step's first calls say it (models/bodies.py); the run had started and stopped at its first three calls
        raise ModelUnavailableError(role, model, f"{base_url}: {html_page_said(page)}", "openai", fix=HTML_PAGE_FIX)
    if status == 404 or (status >= 400 and (UNKNOWN_MODEL.search(message) or _NAME_INVALID.search(message))):
        near = (f"the closest it lists: {', '.join(closest(model, served))}" if served else
                "it lists no models" if listed_ok else "it gives no /models listing")
        # it answered, so its address is right: a newcomer had been told to check --base-url and that it runs
        raise ModelUnavailableError(role, model, f"{base_url} does not serve it; {near}", "openai",
                                    fix=unknown_model_fix(f"--{role}", model, message))


def _check_replicas(role: str, model: str, urls: list[str], flag: str, settings: Settings) -> None:
    """`_check_endpoint` for each of a role's `urls` (replicas; `flag`: the option that gave them); those that cannot
    be reached are named together in one line, with the way on without them when some answer (the first one down
    had been named alone, and the replicas left in "leave that replica out" were down too). Raises
    ModelUnavailableError."""
    down: list[_Unreached] = []
    for base_url in urls:
        if (socks := socks_problem(base_url)) is not None:  # the HTTP client could not even be built
            raise ModelUnavailableError(role, model, socks[0], "openai", fix=socks[1])
        try:
            _check_endpoint(role, model, base_url, settings.api_key, min(settings.request_timeout, 10))
        except _Unreached as exc:
            if len(urls) == 1:
                raise
            down.append(exc)
    if not down:
        return
    live = [u for u in urls if u not in {d.url for d in down}]
    said = "; ".join(f"{d.url}: {d.why}" for d in down)
    fix = next((d.fix for d in down if d.fix), "")  # a certificate not trusted: the same for every replica
    if live:  # the way on without them
        them = "it" if len(down) == 1 else "them"
        fix = (f"start {them}, or leave {'that replica' if len(down) == 1 else 'those replicas'} out: {flag} "
               f"{','.join(live)} (a run already started: ictc resume RUN {flag} ...)")
    which = "" if live else f"any of its {len(urls)} replicas: "
    raise ModelUnavailableError(role, model, f"cannot reach {which}{said}", "openai",
                                fix=fix or f"start the servers, or correct {flag}")


class _Unreached(ModelUnavailableError):
    """A server that cannot be reached at all (`_check_endpoint`): its `url`, `why` (the system's words and any proxy
    it went through) and the `fix` known from them ("" when none)."""

    def __init__(self, role: str, model: str, url: str, why: str, fix: str):
        super().__init__(role, model, f"cannot reach {url}: {why}", "openai", fix=fix)
        self.url, self.why, self.fix = url, why, fix


def _path_fix(base_url: str, api_key: str, timeout: float) -> str:
    """The way out of a base URL where nothing OpenAI-compatible answers: the same URL with /v1 (before its query)
    when its /v1/models answers (one GET), else the advice to give the API's path."""
    root = at(base_url, "/v1")
    if not split_query(base_url)[0].lower().endswith("/v1"):
        try:
            status, _ = _request(at(base_url, "/v1/models"), api_key, timeout)
        except (urllib.error.URLError, TimeoutError, OSError):
            status = 0
        if 0 < status < 400:
            return f"give --base-url {root} (its /v1/models answers: the API is under /v1)"
        return f"give --base-url the URL the server's OpenAI-compatible API is under (most serve it under /v1: {root})"
    return "give --base-url the URL the server's OpenAI-compatible API is under (its documentation names it)"


def _certificate_fix(reason: object) -> str:
    """The way out when `reason` (why a URL could not be reached) is a certificate Python does not trust (self-signed,
    an internal CA), else "" (the backend's own advice)."""
    words = str(reason)
    if not isinstance(reason, ssl.SSLCertVerificationError) and "CERTIFICATE_VERIFY_FAILED" not in words:
        return ""
    if "mismatch" in words.lower():  # a trusted certificate for another name: the URL must use the name it is for
        return "give --base-url the host name the server's certificate is for"
    return ("trust the server's certificate: set SSL_CERT_FILE to a PEM file holding it or its CA "
            "(SSL_CERT_FILE=path/to/cert.pem ictc ...)")


def _endpoint_models(settings: Settings, embedder: TextEmbedder) -> Models:
    import openai
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from ictc.models import direct_chat
    from ictc.models.pushback import shared_ssl_context
    from ictc.models.quirks import ServerQuirks
    from ictc.models.replicas import ServerRegistry, replica_client

    models: dict[str, Any] = {}
    quirks: dict[str, ServerQuirks] = {}
    servers = ServerRegistry(settings.concurrency)  # one gate per server: the VLM and the LLM may share one
    for role, model_id, role_urls in (("vlm", settings.resolved_vlm(), settings.vlm_base_url),
                                      ("llm", settings.resolved_llm(), settings.llm_base_url)):
        urls = role_urls or settings.base_url or [OPENAI_DEFAULT_URL]  # several: replicas (models/replicas.py)
        if OPENAI_DEFAULT_URL in urls and not settings.api_key:
            raise ModelUnavailableError(role, model_id, "OPENAI_API_KEY is not set", "openai")
        _check_replicas(role, model_id, urls, f"--{role}-base-url" if role_urls else "--base-url", settings)
        # what a server refuses is learned once for both roles and all its replicas (models/quirks.py)
        learned = quirks.setdefault(urls[0], ServerQuirks(urls[0], settings.reasoning_room))
        query = split_query(urls[0])[1]  # on every request, after the path (the openai client's default_query)
        urls = [split_query(url)[0] for url in urls]
        client = replica_client(servers, urls, settings.busy_patience, settings.request_timeout, learned)
        chat = ChatOpenAI(model=model_id, base_url=urls[0], default_query=dict(parse_qsl(query)) or None, api_key=SecretStr(settings.api_key or "not-needed"),
                          temperature=0, seed=settings.seed, timeout=settings.request_timeout,
                          max_retries=settings.max_retries, http_client=client,
                          # ChatOpenAI's async client (never sent through here) with the shared SSL context:
                          # its own default context loads the CA bundle again (~60 ms of start-up, cProfile)
                          http_async_client=openai.DefaultAsyncHttpxClient(verify=shared_ssl_context(),
                                                                           timeout=settings.request_timeout,
                                                                           **client_proxy_options(urls)))
        models[role] = direct_chat.hot_path(chat)  # ChatOpenAI's request, sent without LangChain's per-call cost
    llm_json = JsonCaller(models["llm"], supports_response_format=True)
    chooser: Chooser = PromptedChooser(llm_json, embedder, settings.assign_retries)
    if settings.endpoint_choice == "logprobs":  # calibrated first-token choice; the enum one as its fallback
        from ictc.models.calibrated import LogprobChooser

        chooser = LogprobChooser(models["llm"], fallback=chooser)
    return Models(vlm=models["vlm"], llm=models["llm"], llm_json=llm_json, chooser=chooser, embedder=embedder,
                  vlm_id=settings.resolved_vlm(), llm_id=settings.resolved_llm())
