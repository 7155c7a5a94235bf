"""Can a local model be loaded? Answered in seconds, before the hub client's long retry loop."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse


def _hub_reachable(timeout: float = 3.0) -> bool:
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _cached(model_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model_id, "config.json"), str)


def gguf_file(model_id: str) -> Path | None:
    """The path when `model_id` names one GGUF file (existing or not), else None."""
    path = Path(model_id).expanduser()
    return path if path.suffix.lower() == ".gguf" else None


def _gguf_problem(path: Path) -> str | None:
    import importlib.util

    if not path.is_file():
        return f"no file {path}"
    if any(importlib.util.find_spec(package) is None for package in ("gguf", "accelerate")):
        return f"{path} is a GGUF file: loading one needs the gguf and accelerate packages (pip install 'ictc[local]')"
    return None


def local_model_problem(model_id: str) -> str | None:
    """Why `model_id` (a folder, a GGUF file or a hub id) cannot be loaded, or None when it can be tried."""
    if (gguf := gguf_file(model_id)) is not None:
        return _gguf_problem(gguf)
    path = Path(model_id).expanduser()
    if path.is_dir():
        return None if (path / "config.json").is_file() else f"{path} has no config.json"
    if model_id.startswith(("/", "./", "../", "~")) or model_id.count("/") > 1:
        return f"no folder {model_id}"
    if _cached(model_id):
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "not downloaded yet, and HF_HUB_OFFLINE is set"
    if not _hub_reachable():
        return "not downloaded yet, and the Hugging Face hub cannot be reached"
    return None
