"""The words of queries, names and descriptions: content words, stems, readable names."""

from __future__ import annotations

import re
from typing import Any

STOPWORDS = frozenset(
    [
        "a", "an", "the", "and", "or", "but", "of", "for", "to", "in", "on", "at", "by", "with", "from",
        "into", "onto", "about", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its",
        "this", "that", "these", "those", "i", "me", "my", "we", "our", "you", "your", "he", "she", "they",
        "them", "their", "his", "her", "what", "which", "who", "whom", "whose", "when", "where", "why",
        "how", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "do", "does",
        "did", "done", "have", "has", "had", "having", "please", "thanks", "thank", "hi", "hello", "need",
        "want", "like", "just", "also", "then", "after", "next", "some", "any", "all", "each", "every",
        "more", "most", "other", "such", "only", "own", "same", "so", "than", "too", "very", "s", "t",
        "get", "gets", "got", "give", "tell", "show", "find", "look", "up", "one", "two", "me", "help",
        "quick", "project", "working", "manager", "asked", "planning", "ahead", "week", "urgent", "bit",
        "sure", "let", "know", "using", "use", "via", "per", "there", "here", "if", "not", "no", "yes",
        "now", "right", "ok", "okay", "make", "made", "want", "wants", "would", "like", "id",
    ]
)


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def split_name(name: str) -> list[str]:
    return [w.lower() for w in _CAMEL.sub(" ", name).replace("-", " ").replace("_", " ").split() if w]


def stem(word: str) -> str:
    w = word.lower()
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("es", ""), ("s", "")):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            if suffix == "es" and not w.endswith(("ches", "shes", "xes", "ses")):
                continue
            return w[: -len(suffix)] + keep
    return w


def word_stems(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(_CAMEL.sub(" ", text or "")):
        lw = w.lower()
        if lw in STOPWORDS or len(lw) < 2:
            continue
        out.append(stem(lw))
    return out


def positioned_stems(text: str) -> list[tuple[str, str, int]]:
    """(stem, lowercase word, character offset) of the content words of ``text``."""
    out = []
    for m in _WORD.finditer(text or ""):
        lw = m.group(0).lower()
        if lw in STOPWORDS or len(lw) < 2:
            continue
        out.append((stem(lw), lw, m.start()))
    return out


def humanise(name: str) -> str:
    return " ".join(split_name(name))


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def shorten(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
