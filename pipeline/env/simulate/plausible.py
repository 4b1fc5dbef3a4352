"""One plausible value: the place and person the fields of one object share, and strings by format
or by kind (ids, emails, URLs, dates in 2025, phone numbers, names ...).
"""

from __future__ import annotations

import datetime as _dt
import random
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from pipeline.env.simulate.bounds import as_int
from pipeline.env.simulate.names import name_tokens
from pipeline.env.simulate.vocabulary import (
    ADJECTIVES,
    COLOURS,
    COMPANY_SUFFIXES,
    FIRST_NAMES,
    ID_LAST_TOKENS,
    LANGUAGES,
    LAST_NAMES,
    NOUNS,
    PLACES,
    SENTENCES,
    WORDS_BY_TOKEN,
    Place,
)

T = TypeVar("T")

_REFERENCE_START = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)
_REFERENCE_DAYS = 365


class Context:
    """What the fields of one object share: a place, a person, and what the object is
    (its entity), drawn when first needed."""

    __slots__ = ("_other_place", "_person", "_place", "entity", "rng")

    def __init__(self, rng: random.Random, entity: str | None = None) -> None:
        self.rng = rng
        self.entity = entity
        self._place: Place | None = None
        self._other_place: Place | None = None
        self._person: tuple[str, str] | None = None

    @property
    def place(self) -> Place:
        if self._place is None:
            self._place = self.rng.choice(PLACES)
        return self._place

    def place_for(self, tokens: Sequence[str]) -> Place:
        """The object's place, or for a destination-like field a second, different one
        (a flight from CDG goes somewhere else)."""
        if not set(tokens) & _DESTINATION_TOKENS:
            return self.place
        if self._other_place is None:
            others = [p for p in PLACES if p is not self.place]
            self._other_place = self.rng.choice(others)
        return self._other_place

    @property
    def person(self) -> tuple[str, str]:
        if self._person is None:
            self._person = (self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES))
        return self._person

    def place_number(self, words: set[str]) -> float | None:
        if words & {"lat", "latitude"}:
            return round(self.place[3] + self.rng.uniform(-0.05, 0.05), 4)
        if words & {"lon", "lng", "longitude"}:
            return round(self.place[4] + self.rng.uniform(-0.05, 0.05), 4)
        return None


def pick(rng: random.Random, options: Sequence[T]) -> T:
    return options[rng.randrange(len(options))]


def _iso_datetime(rng: random.Random) -> _dt.datetime:
    day = rng.randrange(_REFERENCE_DAYS)
    minutes = rng.randrange(6 * 4, 22 * 4) * 15
    return _REFERENCE_START + _dt.timedelta(days=day, minutes=minutes)


def format_datetime(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def value_for_format(fmt: str, name: str, rng: random.Random, context: Context) -> str | None:
    if fmt == "date-time":
        return format_datetime(_iso_datetime(rng))
    if fmt == "date":
        return _iso_datetime(rng).date().isoformat()
    if fmt == "time":
        return f"{rng.randrange(6, 23):02d}:{pick(rng, (0, 15, 30, 45)):02d}:00Z"
    if fmt in ("email", "idn-email"):
        return _email(context)
    if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
        return _url(name_tokens(name), rng)
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt in ("hostname", "idn-hostname"):
        return f"{pick(rng, ('api', 'www', 'app', 'mail'))}.example.com"
    if fmt == "ipv4":
        return f"192.0.2.{rng.randrange(1, 255)}"
    if fmt == "ipv6":
        return f"2001:db8::{rng.randrange(1, 0xffff):x}"
    if fmt == "duration":
        return f"PT{rng.randrange(1, 5)}H{pick(rng, (0, 15, 30, 45))}M"
    if fmt == "byte":
        return "U2FtcGxlIGRhdGE="
    if fmt == "json-pointer":
        return "/items/0"
    if fmt == "regex":
        return "^[a-z]+$"
    return None


def _email(context: Context) -> str:
    first, last = context.person
    return f"{first.lower()}.{last.lower()}@example.com"


def _url(tokens: Sequence[str], rng: random.Random) -> str:
    words = set(tokens)
    if words & {"image", "photo", "avatar", "thumbnail", "logo", "picture", "poster", "icon"}:
        return f"https://images.example.com/{rng.randrange(10**5, 10**6)}.jpg"
    return f"https://www.example.com/{'-'.join(tokens[:-1]) or 'item'}/{rng.randrange(1000, 99999)}"


def make_id(tokens: Sequence[str], rng: random.Random) -> str:
    entity = [t for t in tokens if t not in ID_LAST_TOKENS]
    prefix = (entity[0][:3] if entity else "id")
    if tokens and tokens[-1] in ("code", "ref", "reference"):
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    if tokens and tokens[-1] == "number":
        return f"{prefix.upper()[:2]}{rng.randrange(100, 10000)}"
    return f"{prefix}-{rng.randrange(10**4, 10**6)}"


def mutate_id(example: str, rng: random.Random) -> str:
    """An id shaped like the example: ``"ORD-700002"`` → ``"ORD-418305"`` (new digits, prefix
    kept); an example without digits gets new letters instead (``"AF"`` → ``"QK"``)."""
    if any(ch.isdigit() for ch in example):
        return "".join(str(rng.randrange(10)) if ch.isdigit() else ch for ch in example)
    upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
    return "".join(rng.choice(upper) if ch in upper else rng.choice(lower) if ch in lower else ch
                   for ch in example)


def generic_text(tokens: Sequence[str], rng: random.Random) -> str:
    if not tokens:
        return pick(rng, SENTENCES)
    return f"{pick(rng, ADJECTIVES)} {' '.join(tokens).capitalize()}"


_DESTINATION_TOKENS = frozenset({"destination", "dest", "arrival", "to"})


def vocabulary_value(kind: str, tokens: Sequence[str], rng: random.Random, context: Context) -> str:
    place = context.place_for(tokens)
    if kind == "email":
        return _email(context)
    if kind == "url":
        return _url(tokens, rng)
    if kind == "page":
        return f"?page={rng.randrange(2, 6)}"
    if kind == "phone":
        return f"{place[8]} 555 {rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}"
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "timezone":
        return place[5]
    if kind == "date-time":
        return format_datetime(_iso_datetime(rng))
    if kind == "date":
        return _iso_datetime(rng).date().isoformat()
    if kind == "clock":
        return f"{rng.randrange(7, 23):02d}:{pick(rng, (0, 15, 30, 45)):02d}"
    if kind == "iata":
        return place[6]
    if kind == "country_code":
        return place[2]
    if kind == "currency":
        return place[7]
    if kind == "calling_code":
        return place[8]
    if kind == "language":
        return pick(rng, LANGUAGES)
    if kind == "postal_code":
        return f"{rng.randrange(10000, 99999)}"
    if kind == "ticker":
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randrange(3, 5)))
    if kind == "country":
        return place[1]
    if kind == "city":
        return place[0]
    if kind == "address":
        street = pick(rng, ("Street", "Avenue", "Road", "Lane"))
        return f"{rng.randrange(1, 250)} {pick(rng, NOUNS)} {street}"
    if kind == "region":
        return pick(rng, ("North", "South", "East", "West", "Central")) + " " + place[1]
    if kind == "first_name":
        return context.person[0]
    if kind == "last_name":
        return context.person[1]
    if kind == "username":
        first, last = context.person
        return f"{first.lower()}{last.lower()[:3]}{rng.randrange(10, 99)}"
    if kind == "person":
        first, last = context.person
        return f"{first} {last}"
    if kind == "company":
        if "airline" in tokens:
            return f"{pick(rng, ADJECTIVES)} Air"
        return f"{pick(rng, NOUNS)} {pick(rng, COMPANY_SUFFIXES)}"
    if kind == "id":
        return make_id(tokens, rng)
    if kind == "title":
        return f"The {pick(rng, ADJECTIVES)} {pick(rng, NOUNS)}"
    if kind == "text":
        return pick(rng, SENTENCES)
    if kind == "name":
        return f"{pick(rng, ADJECTIVES)} {pick(rng, NOUNS)}"
    if kind == "colour":
        return pick(rng, COLOURS)
    if kind == "year":
        return str(rng.randrange(2015, 2026))
    if kind.startswith("word:"):
        return pick(rng, WORDS_BY_TOKEN[kind[5:]])
    return generic_text(tokens, rng)


def fix_length(value: str, schema: dict[str, Any], rng: random.Random) -> str:
    low = as_int(schema.get("minLength"), 0)
    high = as_int(schema.get("maxLength"), None)
    if high is not None and len(value) > high:
        value = value[: max(high, 0)]
    if len(value) < low:
        pad = min(low, 10_000) - len(value)
        value += "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(pad))
    return value
