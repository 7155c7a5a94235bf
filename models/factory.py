"""Builds the runtime context from settings: loads or reaches every model before any work starts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from ictc.graph.context import Context
from ictc.models.availability import local_model_problem
from ictc.models.choose import LikelihoodChooser, PromptedChooser
from ictc.models.embed import make_embedder
from ictc.models.errors import ModelUnavailableError
from ictc.models.structured import JsonCaller
from ictc.settings import Settings

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


def build_context(settings: Settings) -> Context:
    embedder = make_embedder(settings.embedder)
    if settings.backend == "local":
        return _local_context(settings, embedder)
    return _openai_context(settings, embedder)


def _local_context(settings: Settings, embedder) -> Context:
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
    return Context(vlm=vlm, llm=llm, llm_json=JsonCaller(llm, supports_response_format=False),
                   chooser=LikelihoodChooser(llm), embedder=embedder, settings=settings,
                   vlm_id=settings.resolved_vlm(), llm_id=settings.resolved_llm())


def _check_endpoint(role: str, model: str, base_url: str, api_key: str, timeout: float) -> None:
    """Fail fast with one clear line when the server is down or does not serve the model.
    A server without a usable /models listing is given the benefit of the doubt."""
    request = urllib.request.Request(base_url.rstrip("/") + "/models",
                                     headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            listing = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelUnavailableError(role, model, f"cannot reach {base_url}: {reason}", "openai") from exc
    except ValueError:
        return
    served = [m.get("id") for m in listing.get("data", []) if isinstance(m, dict)]
    if served and model not in served:
        raise ModelUnavailableError(role, model, f"{base_url} serves {', '.join(map(str, served[:8]))}", "openai")


def _openai_context(settings: Settings, embedder) -> Context:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from ictc.models.pushback import BusyAwareClient, InFlightGate

    models, clients = {}, {}
    for role, model_id, url in (("vlm", settings.resolved_vlm(), settings.vlm_base_url),
                                ("llm", settings.resolved_llm(), settings.llm_base_url)):
        base_url = url or settings.base_url or OPENAI_DEFAULT_URL
        if base_url == OPENAI_DEFAULT_URL and not settings.api_key:
            raise ModelUnavailableError(role, model_id, "OPENAI_API_KEY is not set", "openai")
        _check_endpoint(role, model_id, base_url, settings.api_key, min(settings.request_timeout, 10))
        if base_url not in clients:  # one gate per server: the VLM and the LLM may share one
            clients[base_url] = BusyAwareClient(InFlightGate(settings.concurrency), settings.busy_patience,
                                                base_url=base_url, timeout=settings.request_timeout)
        models[role] = ChatOpenAI(model=model_id, base_url=base_url, api_key=SecretStr(settings.api_key or "not-needed"),
                                  temperature=0, seed=settings.seed, timeout=settings.request_timeout,
                                  max_retries=settings.max_retries, http_client=clients[base_url])
    llm_json = JsonCaller(models["llm"], supports_response_format=True)
    chooser = PromptedChooser(llm_json, embedder, settings.assign_retries)
    return Context(vlm=models["vlm"], llm=models["llm"], llm_json=llm_json, chooser=chooser, embedder=embedder,
                   settings=settings, vlm_id=settings.resolved_vlm(), llm_id=settings.resolved_llm())
