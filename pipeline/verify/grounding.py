"""The grounding check: every argument value of every call must come from somewhere.

A value is *grounded* when it comes from

* the **instruction**: a string whose words appear in the instruction (case, accents, spacing and
  punctuation aside; a date may be written out, "June 2, 2025" for ``2025-06-02``), a number
  equal to a number the instruction writes;
* an **observation**: a value that appears in the result of an earlier call on the path (equal to
  one of its values, or words of one of its texts);
* the **schema** of that parameter: an ``enum`` member, the ``default``, an ``example`` /
  ``examples`` / ``example_value``;
* or is a plausible **free** value nobody has to give: a boolean, null, an empty string, a small
  integer (0-10, or a round page size such as 20/25/50/100 for a paging parameter).

Anything else was made up: the offline policy's old ``q="Begin"`` (a word of the prompt
template), an LLM's hallucinated ``restaurant_id``. It is flagged; a flagged *required* argument
rejects the sample, since the call could not have been written from what the model was given.
Lists and objects are grounded when each of their scalar values is.

Everything here is pure: the funnel (:mod:`pipeline.verify.stage`) and the report
(:mod:`pipeline.report.quality`) apply the same rules to a path.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.verify.verdict import ArgumentFlag, GroundingResult

Source = Literal["instruction", "observation", "schema", "free"]
SOURCES: tuple[Source, ...] = ("instruction", "observation", "schema", "free")

_SCHEMA_VALUE_KEYS = ("default", "example", "example_value")
_PAGING_WORDS = frozenset(["limit", "size", "count", "page", "per", "offset", "top", "max", "num", "results", "rows"])
_ROUND_PAGE_SIZES = frozenset([12, 15, 20, 25, 30, 50, 100])
_TOKEN = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?![\w])|(?<![\w.])[-+]?\.\d+")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MAX_LEAVES = 20000  # an observation is read this far: a huge result grounds no better


def normalise(text: str) -> str:
    """Lower case, accents and punctuation dropped, one space between words."""
    # compatibility forms first ("𝕊" is an "S" only after NFKD), then case, then once more: a
    # case-folded letter may decompose again
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_TOKEN.findall(plain))


def _stem(token: str) -> str:
    return token[:-1] if len(token) > 3 and token.endswith("s") else token


def _numbers(text: str) -> set[float]:
    found: set[float] = set()
    for match in _NUMBER.findall(text):
        cleaned = match.replace(",", "") if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", match) else match
        try:
            found.add(float(cleaned.replace(",", ".")))
        except ValueError:
            continue
    return found


@dataclass
class Evidence:
    """What a path's calls may draw from, read once: the words and numbers of a text or values."""

    phrases: set[str] = field(default_factory=set)  # every normalised text (whole values)
    tokens: set[str] = field(default_factory=set)  # their words, light-stemmed
    numbers: set[float] = field(default_factory=set)
    _parts: list[str] = field(default_factory=list)
    _joined: str | None = None

    @property
    def text(self) -> str:
        """All normalised texts, each between spaces, for word-sequence matches."""
        if self._joined is None:
            self._joined = "".join(f" {part} " for part in self._parts)
        return self._joined

    @classmethod
    def of_text(cls, text: str) -> Evidence:
        evidence = cls()
        evidence.add_text(text)
        return evidence

    def add_text(self, text: str) -> None:
        norm = normalise(text)
        if norm and norm not in self.phrases:
            self.phrases.add(norm)
            self.tokens.update(_stem(t) for t in norm.split())
            self._parts.append(norm)
            self._joined = None
        if any(c.isdigit() for c in text):
            self.numbers |= _numbers(text)

    def add_value(self, value: Any) -> None:
        for leaf in _leaves(value, with_keys=False):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, (int, float)):
                if math.isfinite(leaf):
                    self.numbers.add(float(leaf))
                self.add_text(str(leaf))
            else:
                self.add_text(str(leaf))

    def holds(self, value: Any) -> bool:
        """Whether ``value`` (a scalar) is found here: a number equal to one, words in order."""
        if isinstance(value, bool) or value is None:
            return False
        if isinstance(value, (int, float)):
            return math.isfinite(value) and float(value) in self.numbers
        text = str(value)
        norm = normalise(text)
        if not norm:
            return False
        if norm in self.phrases or f" {norm} " in self.text:
            return True
        words = norm.split()
        if re.fullmatch(r"[-+]?\d+(?:\.\d+)?", text.strip()):  # a number sent as text
            return float(text) in self.numbers
        # words that all appear, in any order ("Paris France" from "... France ... Paris"),
        # when there is more than one: a single word must appear as a word
        return len(words) > 1 and all(_stem(w) in self.tokens for w in words)

    def holds_date(self, value: Any) -> bool:
        """An ISO date the text writes out: "June 2, 2025", "2 June 2025", "06/02/2025"."""
        if not isinstance(value, str):
            return False
        match = _ISO_DATE.match(value.strip())
        if not match:
            return False
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if not 1 <= month <= 12:
            return False
        name = _MONTHS[month - 1]
        spelled = (rf"\b{name}\s+0?{day}(?:st|nd|rd|th)?\b", rf"\b0?{day}(?:st|nd|rd|th)?\s+(?:of\s+)?{name}\b",
                   rf"\b0?{month}\s+0?{day}\s+{year}\b", rf"\b0?{day}\s+0?{month}\s+{year}\b")
        return any(re.search(pattern, self.text) for pattern in spelled)


def _leaves(value: Any, *, with_keys: bool = False) -> Iterable[Any]:
    """The scalar values inside ``value`` (iteratively; at most ``_MAX_LEAVES``)."""
    stack = [value]
    seen = 0
    while stack and seen < _MAX_LEAVES:
        item = stack.pop()
        if isinstance(item, Mapping):
            if with_keys:
                yield from (str(k) for k in item)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            seen += 1
            yield item


def schema_values(spec: Mapping[str, Any]) -> list[Any]:
    """The values a parameter's schema itself offers: enum members, default, examples."""
    values: list[Any] = []
    enum = spec.get("enum")
    if isinstance(enum, list):
        values.extend(enum)
    for key in _SCHEMA_VALUE_KEYS:
        if key in spec:
            values.append(spec[key])
    examples = spec.get("examples")
    if isinstance(examples, list):
        values.extend(examples)
    elif isinstance(examples, Mapping):  # OpenAPI's named examples: {"name": {"value": ...}}
        values.extend(e.get("value") if isinstance(e, Mapping) else e for e in examples.values())
    items = spec.get("items")
    if isinstance(items, Mapping):
        values.extend(schema_values(items))
    return values


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, (int, float, str)) and isinstance(b, (int, float, str)):
        na, nb = normalise(str(a)), normalise(str(b))
        return bool(na) and na == nb
    return False


def is_free(value: Any, parameter: str = "") -> bool:
    """A value nobody has to give: booleans, null, an empty text, small or round paging numbers."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (int, float)) and math.isfinite(value) and float(value).is_integer():
        number = int(value)
        if 0 <= number <= 10:
            return True
        words = set(_TOKEN.findall(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", parameter).lower()))
        return number in _ROUND_PAGE_SIZES and bool(words & _PAGING_WORDS)
    return False


def source_of(value: Any, *, parameter: str, spec: Mapping[str, Any], instruction: Evidence,
              observed: Evidence) -> Source | None:
    """Where a scalar argument value comes from, best source first, or None when nowhere."""
    if instruction.holds(value) or instruction.holds_date(value):
        return "instruction"
    if observed.holds(value):
        return "observation"
    if any(_same(value, offered) for offered in schema_values(spec)):
        return "schema"
    if is_free(value, parameter):
        return "free"
    return None


def argument_source(value: Any, *, parameter: str, spec: Mapping[str, Any], instruction: Evidence,
                    observed: Evidence) -> Source | None:
    """Where an argument value comes from; a list or object is grounded when all its values are
    (its weakest source counts), and an empty one is free."""
    if isinstance(value, (Mapping, list, tuple)):
        if any(_same(value, offered) or value == offered for offered in schema_values(spec)):
            return "schema"
        item_spec = spec.get("items") if isinstance(spec.get("items"), Mapping) else {}
        weakest: Source | None = None
        for leaf in _leaves(value):
            found = source_of(leaf, parameter=parameter, spec=item_spec or spec, instruction=instruction,
                              observed=observed)
            if found is None:
                return None
            weakest = found if weakest is None else max(weakest, found, key=SOURCES.index)
        return weakest or "free"
    return source_of(value, parameter=parameter, spec=spec, instruction=instruction, observed=observed)


@dataclass(frozen=True)
class GroundingCall:
    """One call of a path as the grounding check reads it."""

    name: str
    arguments: Mapping[str, Any]
    observation: Any = None  # what the call returned (its error text included), read by later calls
    is_finish: bool = False


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_grounding(instruction: str, calls: Sequence[GroundingCall],
                    schemas: Mapping[str, Mapping[str, Any]]) -> GroundingResult:
    """Check every argument of every call (Finish aside) against what the path could draw from.

    ``schemas`` maps a function name to its ``parameters`` schema. Passes unless a required
    argument is ungrounded; every ungrounded argument, required or not, is listed in ``flagged``.
    """
    told = Evidence.of_text(instruction)
    observed = Evidence()
    sources: Counter[str] = Counter()
    flagged: list[ArgumentFlag] = []
    checked = 0
    for index, call in enumerate(calls, start=1):
        if not call.is_finish:
            schema = schemas.get(call.name, {})
            given = schema.get("properties")
            properties: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
            listed = schema.get("required")
            required: list[Any] = listed if isinstance(listed, list) else []
            for parameter, value in call.arguments.items():
                checked += 1
                found_spec = properties.get(parameter)
                spec: Mapping[str, Any] = found_spec if isinstance(found_spec, Mapping) else {}
                found = argument_source(value, parameter=parameter, spec=spec, instruction=told, observed=observed)
                if found is not None:
                    sources[found] += 1
                    continue
                flagged.append(ArgumentFlag(call=index, function=call.name, argument=parameter,
                                            value=_shown(value), required=parameter in required))
        if call.observation is not None:
            observed.add_value(call.observation)
    reasons = [f"ungrounded required argument {flag.argument}={flag.value} of {flag.function} (call {flag.call})"
               for flag in flagged if flag.required]
    return GroundingResult(passed=not reasons, reasons=reasons, arguments=checked,
                           grounded=checked - len(flagged), flagged=flagged,
                           sources={s: sources[s] for s in SOURCES if sources[s]})
