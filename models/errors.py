"""Errors a user can fix by configuration; the CLI prints them as one line."""


class ModelUnavailableError(RuntimeError):
    """A configured model could not be loaded or reached; raised before any work starts."""

    def __init__(self, role: str, model: str, reason: str, backend: str):
        self.role, self.model, self.reason = role, model, reason
        ways = (
            f"give a local folder (--{role} /path/to/model), "
            "use an OpenAI-compatible endpoint (--backend openai --base-url URL, e.g. vLLM, Ollama, llama.cpp), "
            "or go online so the model can be downloaded once"
        )
        if backend == "openai":
            ways = ("check --base-url / OPENAI_BASE_URL and that the server is running, "
                    f"or use a local model (--backend local --{role} /path/to/model)")
        super().__init__(f"The {role.upper()} '{model}' is not available ({reason}). To fix: {ways}.")
