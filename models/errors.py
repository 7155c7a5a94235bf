"""Errors a user can fix by configuration; the CLI prints them as one line."""

from __future__ import annotations


class ModelUnavailableError(RuntimeError):
    """Configured models that could not be loaded or reached; raised before any work starts."""

    def __init__(self, role: str, model: str, reason: str, backend: str,
                 more: list[tuple[str, str, str]] | None = None):
        self.missing = [(role, model, reason), *(more or [])]
        roles = " / ".join(f"--{r}" for r, _, _ in self.missing)
        ways = (
            f"give a local folder ({roles} /path/to/model), "
            "use an OpenAI-compatible endpoint (--backend openai --base-url URL, e.g. vLLM, Ollama, llama.cpp), "
            "or go online so the model can be downloaded once"
        )
        if backend == "openai":
            ways = ("check --base-url / OPENAI_BASE_URL and that the server is running, "
                    f"or use local models (--backend local {roles} /path/to/model)")
        what = "; ".join(f"the {r.upper()} '{m}' is not available ({why})" for r, m, why in self.missing)
        super().__init__(f"{what[0].upper()}{what[1:]}. To fix: {ways}.")
