"""Cache keys: a hash of exactly the inputs that determine a step's answer."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def step_key(step: str, model_id: str, messages: Any, **inputs: Any) -> str:
    """`messages` is the filled prompt; `inputs` anything else the answer depends on (limits, names)."""
    payload = json.dumps({"step": step, "model": model_id, "messages": messages, "inputs": inputs},
                         sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
