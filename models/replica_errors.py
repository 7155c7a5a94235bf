"""What an error no replica could take says of the replicas (models/replicas.py sets it, nodes/watch.py says it); a
module of its own so that reading it imports no HTTP client (a rename or a merge loads no openai SDK)."""

from __future__ import annotations

FAILED = "ictc_replicas_failed"  # set on a transport error that no replica could take: the URLs of those that failed


def replicas_failed(exc: BaseException) -> list[str]:
    """The URLs of the replicas that had all failed when `exc` (or an error it was raised from, e.g. the openai
    client's APIConnectionError) was raised: [] for an error of one server. Why: with every replica down the stop
    had named only the one tried last."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if urls := getattr(error, FAILED, None):
            return list(urls)
        error = error.__cause__ or error.__context__
    return []
