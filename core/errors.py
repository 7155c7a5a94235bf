"""The errors a user can cause or fix. Each prints as one line (CLI exit 1, or 3 for a model); any other
exception is a bug, reported as such with its traceback kept (ictc/cli/main.py)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any


class UsageError(ValueError):
    """Something the user gave (a file, a folder, a value, a command) that cannot be used.

    The message is one line naming the file or value and, where it helps, what to give instead. A
    ValueError subclass, so callers that catch ValueError for bad parameters (scikit-learn's habit) still do."""


def whole_number(value: Any, what: str) -> int:
    """`value` as an int when it is a whole number: an int (numpy's too), a float equal to one (3.0), or its text
    ("3", " -1 "). `what` names it in the message ("the number of parts").

    Raises UsageError naming the value otherwise: a fraction (split_cluster(0, 2.7) had split into 2), a bool (True
    had been 1), None or any other type."""
    if isinstance(value, bool) or value is None:
        raise UsageError(f"{what} must be a whole number, not {value!r}")
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and float(value).is_integer():
        return int(float(value))
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise UsageError(f"{what} must be a whole number, not {value!r}")


class ModelUnavailableError(RuntimeError):
    """Configured models that could not be loaded or reached; raised before any work starts.

    role: "vlm" or "llm"; model: the name or folder as given; reason: why, in words; backend: "local" or
    "openai" (it chooses the ways out the message lists); more: further (role, model, reason) triples; fix: the
    way out when the caller knows it (a server that answered but does not serve the name), else the backend's."""

    def __init__(self, role: str, model: str, reason: str, backend: str,
                 more: list[tuple[str, str, str]] | None = None, fix: str = ""):
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
        super().__init__(f"{what[0].upper()}{what[1:]}. To fix: {fix or ways}.")


class SystematicFailureError(ModelUnavailableError):
    """A step's model calls fail the same way for every image tried (no image support, an unknown model, a
    refused key): the run stops early (CLI exit 3), keeping what finished.

    step: the step's name; cause: what the server answered, in words; fix: what the user can do."""

    def __init__(self, step: str, cause: str, fix: str):
        self.missing = []
        self.step, self.cause, self.fix = step, cause, fix
        RuntimeError.__init__(self, f"stopped at {step}: {cause}. To fix: {fix}.")
