"""What the query itself names: quoted strings, dates, numbers, emails, capitalised names, codes,
and values written next to a parameter's name."""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline.llm.offline_policy.values import fit_to_param, param_kind
from pipeline.llm.offline_policy.words import STOPWORDS, humanise, stem

_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
QUOTED = re.compile(r"(?<!\w)'([^']{1,200})'(?!\w)|\"([^\"]{1,200})\"|“([^”]{1,200})”")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w-])")
_CAPNAME = re.compile(r"\b([A-Z][a-zà-ÿ]+(?:[ -][A-Z][a-zà-ÿ]+)*)\b")
_CODE3 = re.compile(r"\b([A-Z]{3})\b")
_UPPER = re.compile(r"\b([A-Z]{1,5})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


class QueryFacts:
    def __init__(self, query: str, vocabulary: set[str] | frozenset[str] = frozenset()) -> None:
        self.query = query or ""
        self.lower = self.query.lower()
        spans = [(m.start(), m.end()) for m in re.finditer(r"\([^)]*\)", self.query)]
        self.quoted_at = [
            (next(g for g in m.groups() if g), m.start())
            for m in QUOTED.finditer(self.query)
            if not any(a < m.start() < b for a, b in spans)
        ]
        self.quoted = [q for q, _ in self.quoted_at]
        self.dates = _ISO_DATE.findall(self.query)
        no_dates = _ISO_DATE.sub(" ", self.query)
        self.numbers = [m.group(0) for m in _NUMBER.finditer(no_dates)]
        self.emails = _EMAIL.findall(self.query)
        names = []
        for m in _CAPNAME.finditer(self.query):
            words = m.group(1)
            start = m.start(1)
            sentence_start = start == 0 or re.search(r"[.!?;:]\s*$|^\s*$", self.query[:start]) is not None
            first = words.split()[0].lower()
            if sentence_start and (
                first in STOPWORDS or first in _COMMON_START or stem(first) in vocabulary
            ):
                rest = words.split()[1:]
                if not rest:
                    continue
                words = " ".join(rest)
            if words.lower() in STOPWORDS or words.lower() in _COMMON_START:
                continue
            if words not in names:
                names.append(words)
        self.names = names
        self.codes3 = [c for c in _CODE3.findall(self.query) if c not in ("AND", "THE")]
        self.upper = [u for u in _UPPER.findall(self.query) if u not in ("I", "A")]

    def explicit(
        self, param: str, spec: dict[str, Any], anchor: int = 0, siblings: Any = (), end: int | None = None
    ) -> Any:
        """A value the query names next to the parameter: "days 30", "city 'Lisbon'"; of several
        mentions, the first one at or after ``anchor`` (the function's part of the query)."""
        label = re.escape(humanise(param)).replace(r"\ ", r"[\s_-]+")
        mentions = list(
            re.finditer(
                rf"\b{label}\b\s*(?:[:=]|is|of)?\s*('([^']*)'|\"([^\"]*)\"|\[[^\]]*\]|\{{[^}}]*\}}|[-\w.:@/]+)",
                self.query,
                re.IGNORECASE,
            )
        )
        label_h = humanise(param)
        longer = [
            humanise(o)[: -len(label_h)].strip()
            for o in siblings
            if o != param and humanise(o).endswith(" " + label_h)
        ]
        mentions = [
            m
            for m in mentions
            if not any(
                re.search(rf"\b{re.escape(pre)}[\s_-]*$", self.query[: m.start()], re.IGNORECASE)
                for pre in longer
            )
        ]
        stop = end if end is not None else 1 << 30
        ahead = [m for m in mentions if anchor <= m.start() < stop]
        if end is not None:  # an optional parameter: only what the function's own part of the query says
            mentions = ahead
        else:
            mentions = ahead + [m for m in reversed(mentions) if m.start() < anchor]
        for m in mentions:
            quoted = m.group(2) if m.group(2) is not None else m.group(3)
            value = quoted if quoted is not None else m.group(1)
            if quoted is None and value[:1] in "[{":
                try:
                    value = json.loads(value) if param_kind(spec) in ("array", "object") else value
                except ValueError:
                    pass
            coerced = fit_to_param(value, spec)
            if coerced is None:
                continue
            if quoted is None and isinstance(coerced, str):
                if (
                    spec.get("enum") is None
                    and not re.search(r"\d|[A-Z]", value)
                    and (len(param) < 4 or value.lower() in STOPWORDS)
                ):
                    continue
                if value.lower() in STOPWORDS and not spec.get("enum"):
                    continue
            return coerced
        return None


_COMMON_START = frozenset(
    [
        "what", "whats", "how", "please", "could", "can", "i", "my", "hi", "quick", "for", "find", "show",
        "get", "tell", "list", "look", "give", "is", "are", "do", "does", "would", "will", "search",
        "fetch", "check", "convert", "translate", "book", "send", "create", "add", "delete", "remove",
        "cancel", "compare", "track", "count", "calculate", "compute", "where", "when", "which", "who",
        "why", "then", "next", "after", "also", "and", "but",
    ]
)
