"""Loads or reaches every model named in settings before any work starts (local folders or endpoints)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ictc.core.errors import ModelUnavailableError
from ictc.core.settings import Settings
from ictc.models.availability import local_model_problem
from ictc.models.choose import Chooser, LikelihoodChooser, PromptedChooser
from ictc.models.embed import TextEmbedder, make_embedder
from ictc.models.structured import JsonCaller

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


@dataclass
class Models:
    """Every model a run uses, loaded: the fields of the runtime context that are models.

    vlm and llm are LangChain chat models (the VLM accepts OpenAI-style image blocks); llm_json asks the
    LLM for JSON; chooser picks one of K names (Step 3); vlm_id and llm_id are the model names as given."""

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


def _endpoint_models(settings: Settings, embedder: TextEmbedder) -> Models:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from ictc.models.pushback import BusyAwareClient, InFlightGate

    models: dict[str, Any] = {}
    clients: dict[str, Any] = {}
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
    chooser: Chooser = PromptedChooser(llm_json, embedder, settings.assign_retries)
    if settings.endpoint_choice == "logprobs":  # calibrated first-token choice; the enum one as its fallback
        from ictc.models.calibrated import LogprobChooser

        chooser = LogprobChooser(models["llm"], fallback=chooser)
    return Models(vlm=models["vlm"], llm=models["llm"], llm_json=llm_json, chooser=chooser, embedder=embedder,
                  vlm_id=settings.resolved_vlm(), llm_id=settings.resolved_llm())
