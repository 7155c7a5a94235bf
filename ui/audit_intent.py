"""Reading a chat message as a request for a fairness audit ("is this biased by gender?"): the attribute, as
perceived, and the values when the user gave them (ui/fairness.py acts on it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class AuditRequest:
    """A chat request for a fairness audit: the attribute (as perceived) and the values if the user gave them."""

    attribute: str
    values: list[str] = field(default_factory=list)


_AUDIT_TRIGGER = re.compile(r"\b(?:biased|bias|unfair|fair|fairness|skewed|disparit\w*|audit)\b|^check\b", re.I)
_AUDIT_TOPIC = re.compile(r"\b(?:by|for|on|about|regarding|across|of|in terms of|with respect to|towards?|against)\s+"
                          r"(.+)$|^check\s+(?:for\s+)?(.+)$", re.I)
_AUDIT_TAIL = re.compile(r"\s+(?:too|also|as well|please|again|instead|bias|biases|fairness|balance|disparit\w*)$|^(?:the|a|an|perceived|their|people'?s)\s+", re.I)


def read_audit_request(text: str) -> AuditRequest | None:
    """'is this biased by gender?' -> perceived gender; 'check age too' -> perceived age; 'audit by skin
    tone, values light, medium, dark' -> with values. None when the message is not an audit request."""
    message = " ".join(text.strip().split()).rstrip("?.! ")
    values: list[str] = []
    if m := re.search(r"[,;(]?\s*\bvalues?\s*:?\s*(.+?)\)?$", message, re.I):
        values = [v.strip() for v in re.split(r",|/|\bor\b", m[1]) if v.strip()]
        message = message[:m.start()].rstrip("?.!,;: ")  # "biased by gender? values: ..." asks of "gender"
    if not _AUDIT_TRIGGER.search(message) or not (topic := _AUDIT_TOPIC.search(message)):
        return None
    attribute = (topic[1] or topic[2]).lower()
    while (shorter := _AUDIT_TAIL.sub("", attribute).strip()) != attribute:
        attribute = shorter
    if not attribute or len(attribute) > 40 or attribute in ("this", "it", "them", "clusters", "cluster", "results",
                                                             "everything", "groups"):
        return None
    return AuditRequest(f"perceived {attribute}", values)
