"""Plausible values by field name: the word lists, what a string field most plausibly holds, and the
range of a numeric field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from pipeline.env.simulate.names import singular_of

# city, country, ISO 3166 code, lat, lon, time zone, IATA, currency, calling code
Place = tuple[str, str, str, float, float, str, str, str, str]
PLACES: tuple[Place, ...] = (
    ("Paris", "France", "FR", 48.8566, 2.3522, "Europe/Paris", "CDG", "EUR", "+33"),
    ("London", "United Kingdom", "GB", 51.5074, -0.1278, "Europe/London", "LHR", "GBP", "+44"),
    ("New York", "United States", "US", 40.7128, -74.006, "America/New_York", "JFK", "USD", "+1"),
    ("Tokyo", "Japan", "JP", 35.6762, 139.6503, "Asia/Tokyo", "HND", "JPY", "+81"),
    ("Berlin", "Germany", "DE", 52.52, 13.405, "Europe/Berlin", "BER", "EUR", "+49"),
    ("Madrid", "Spain", "ES", 40.4168, -3.7038, "Europe/Madrid", "MAD", "EUR", "+34"),
    ("Rome", "Italy", "IT", 41.9028, 12.4964, "Europe/Rome", "FCO", "EUR", "+39"),
    ("Sydney", "Australia", "AU", -33.8688, 151.2093, "Australia/Sydney", "SYD", "AUD", "+61"),
    ("Toronto", "Canada", "CA", 43.6532, -79.3832, "America/Toronto", "YYZ", "CAD", "+1"),
    ("Amsterdam", "Netherlands", "NL", 52.3676, 4.9041, "Europe/Amsterdam", "AMS", "EUR", "+31"),
    ("Lisbon", "Portugal", "PT", 38.7223, -9.1393, "Europe/Lisbon", "LIS", "EUR", "+351"),
    ("Seoul", "South Korea", "KR", 37.5665, 126.978, "Asia/Seoul", "ICN", "KRW", "+82"),
    ("Mexico City", "Mexico", "MX", 19.4326, -99.1332, "America/Mexico_City", "MEX", "MXN", "+52"),
    ("Mumbai", "India", "IN", 19.076, 72.8777, "Asia/Kolkata", "BOM", "INR", "+91"),
    ("Cape Town", "South Africa", "ZA", -33.9249, 18.4241, "Africa/Johannesburg", "CPT", "ZAR", "+27"),
    ("Zurich", "Switzerland", "CH", 47.3769, 8.5417, "Europe/Zurich", "ZRH", "CHF", "+41"),
)


FIRST_NAMES = ("Alex", "Maria", "James", "Sofia", "Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia",
          "Ethan", "Chloe", "Daniel", "Hannah", "Mateo", "Yuki", "Amara", "Leila", "Jonas", "Priya")


LAST_NAMES = ("Morgan", "Garcia", "Smith", "Rossi", "Dubois", "Tanaka", "Kim", "Silva", "Nguyen", "Patel",
         "Johnson", "Kowalski", "Larsen", "Okafor", "Brown", "Martin", "Costa", "Novak", "Schmidt", "Lee")


ADJECTIVES = ("Golden", "Blue", "Green", "Silver", "Royal", "Little", "Grand", "Old", "North", "Sunny",
               "Quiet", "Urban", "Bright", "Wild", "Hidden", "Central")


NOUNS = ("Harbor", "Garden", "Lantern", "Table", "Oak", "River", "Corner", "Bay", "Bistro", "Market",
          "Studio", "Park", "Bridge", "Orchard", "Summit", "Square")


COMPANY_SUFFIXES = ("Group", "Labs", "Systems", "Holdings", "Partners", "Works", "Co.", "International")
SENTENCES = (
    "A popular choice with consistently good reviews.",
    "Recently updated with new details.",
    "Well located and easy to reach by public transport.",
    "Available for a limited time only.",
    "Includes everything needed to get started.",
    "Rated highly by visitors for quality and value.",
    "Offers a relaxed atmosphere and friendly service.",
    "A classic option that rarely disappoints.",
)


COLOURS = ("red", "blue", "green", "black", "white", "silver", "yellow", "navy")
LANGUAGES = ("en", "es", "fr", "de", "it", "ja", "pt", "nl")
WORDS_BY_TOKEN = {
    "genre": ("Drama", "Comedy", "Thriller", "Documentary", "Animation", "Science Fiction"),
    "cuisine": ("italian", "french", "japanese", "mexican", "indian", "thai"),
    "industry": ("Technology", "Healthcare", "Energy", "Retail", "Financial Services", "Media"),
    "sector": ("Technology", "Healthcare", "Energy", "Consumer Goods", "Financials", "Industrials"),
    "category": ("general", "featured", "popular", "new", "classic", "premium"),
    "type": ("standard", "premium", "basic", "extended"),
    "kind": ("standard", "premium", "basic", "extended"),
    "status": ("active", "confirmed", "pending", "completed"),
    "state": ("active", "confirmed", "pending", "completed"),
    "unit": ("kg", "g", "ml", "pcs"),
    "units": ("metric", "imperial"),
    "gender": ("female", "male", "non-binary"),
    "department": ("Sales", "Engineering", "Support", "Marketing"),
    "amenity": ("wifi", "parking", "pool", "gym", "breakfast", "spa"),
    "tag": ("new", "popular", "featured", "limited", "classic"),
    "feature": ("wifi", "parking", "air conditioning", "accessible", "pet friendly"),
    "ingredient": ("tomato", "onion", "garlic", "olive oil", "basil", "chickpeas", "rice"),
    "day": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
}


_PERSON_TOKENS = {"author", "director", "guest", "customer", "player", "coach", "referee", "ceo",
                  "owner", "user", "artist", "driver", "contact", "passenger", "person", "sender",
                  "recipient", "manager", "founder", "actor", "host", "organizer", "organiser",
                  "attendee", "member", "employee", "reviewer", "traveler", "traveller", "holder"}


_EMAIL_NAMES = {"from", "to", "cc", "bcc", "recipient", "recipients", "attendee", "attendees", "sender",
                "reply_to"}


_URL_TOKENS = {"url", "uri", "link", "href", "website", "homepage", "image", "photo", "avatar",
               "thumbnail", "logo", "picture", "poster", "icon", "src"}


_TEXT_TOKENS = {"description", "overview", "biography", "bio", "summary", "snippet", "notes", "note",
                "body", "text", "content", "message", "advice", "comment", "review", "details",
                "instructions", "translation", "excerpt", "caption", "reason", "remarks", "about",
                "tagline", "plot", "preview"}


_TITLE_TOKENS = {"title", "subject", "headline", "label"}
_COMPANY_TOKENS = {"company", "brand", "airline", "manufacturer", "publisher", "studio", "vendor",
                   "merchant", "carrier", "organization", "organisation", "employer", "operator"}


ID_LAST_TOKENS = {"id", "ids", "uuid", "guid", "ref", "sku", "isbn", "reference", "key", "token",
                   "slug", "hash", "number", "no", "code"}


_DATETIME_TOKENS = {"timestamp", "datetime", "created", "updated", "update", "modified", "published"}


@lru_cache(maxsize=8192)
def string_kind(tokens: tuple[str, ...], description: str) -> str | None:
    """What a string field named ``tokens`` most plausibly holds."""
    if not tokens:
        return _kind_from_description(description)
    last, words = tokens[-1], set(tokens)
    name = "_".join(tokens)
    if "email" in words or "mail" == last or name in _EMAIL_NAMES:
        return "email"
    if words & _URL_TOKENS:
        return "url"
    if name in ("next", "previous", "prev", "next_page", "previous_page", "prev_page"):
        return "page"
    if words & {"phone", "mobile", "tel", "telephone", "fax"}:
        return "phone"
    if "uuid" in words or "guid" in words:
        return "uuid"
    if "timezone" in words or {"time", "zone"} <= words or last == "tz":
        return "timezone"
    if last == "at" or words & _DATETIME_TOKENS or name in ("as_of", "since", "until"):
        return "date-time"
    if last in ("date", "birthday", "dob") or name in ("day",):
        return "date"
    if last in ("time", "hour") or name in ("opens", "closes"):
        return "clock"
    if "iata" in words or "airport" in words:
        return "iata"
    if "country" in words and ("code" in words or "iso" in words or "iso2" in words):
        return "country_code"
    if "currency" in words or "currencies" in words:
        return "currency"
    if {"calling", "dial", "dialing"} & words:
        return "calling_code"
    if words & {"language", "lang", "locale", "languages"}:
        return "language"
    if words & {"postal", "zip", "postcode", "zipcode"}:
        return "postal_code"
    if words & {"symbol", "ticker"}:
        return "ticker"
    if words & {"country", "nationality"}:
        return "country"
    if words & {"city", "capital", "town", "birthplace", "hometown"} or name in ("location",):
        return "city"
    if words & {"address", "street", "line1", "line2"}:
        return "address"
    if words & {"region", "province", "county"}:
        return "region"
    if {"first", "name"} <= words or {"given", "name"} <= words or name in ("first_name", "firstname"):
        return "first_name"
    if {"last", "name"} <= words or {"family", "name"} <= words or "surname" in words or name == "lastname":
        return "last_name"
    if "username" in words or name in ("handle", "login"):
        return "username"
    if words & _PERSON_TOKENS and (last == "name" or last in _PERSON_TOKENS):
        return "person"
    if words & _COMPANY_TOKENS and last not in ("id", "code"):
        return "company"
    if last in ID_LAST_TOKENS or name == "id":
        return "id"
    if words & _TITLE_TOKENS:
        return "title"
    if words & _TEXT_TOKENS:
        return "text"
    if last == "name":
        return "name"
    if words & {"color", "colour", "colours", "colors"}:
        return "colour"
    if last in ("season", "year"):
        return "year"
    singular = singular_of(last)
    if singular in WORDS_BY_TOKEN:
        return "word:" + singular
    return _kind_from_description(description)


def _kind_from_description(description: str) -> str | None:
    text = description.lower()
    if not text:
        return None
    if "iata" in text:
        return "iata"
    if "iso 4217" in text or "currency code" in text:
        return "currency"
    if "iso 3166" in text or "country code" in text:
        return "country_code"
    if "e-mail" in text or "email address" in text:
        return "email"
    if "url" in text.split() or "link to" in text:
        return "url"
    return None


_CURRENCY_CODES = frozenset({p[7] for p in PLACES} | {"CNY", "SEK", "NOK", "DKK", "PLN", "SGD", "HKD"})
_COUNTRY_CODES = frozenset(p[2] for p in PLACES)
_IATA_CODES = frozenset(p[6] for p in PLACES)


def kind_from_example(example: str) -> str | None:
    """A field whose example is a known code, a date, an email ... holds more of the same."""
    if example in _CURRENCY_CODES:
        return "currency"
    if example in _COUNTRY_CODES:
        return "country_code"
    if example in _IATA_CODES:
        return "iata"
    if example in LANGUAGES:
        return "language"
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", example):
        return "email"
    if re.match(r"https?://", example):
        return "url"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", example):
        return "date"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})", example):
        return "date-time"
    if re.fullmatch(r"\d{2}:\d{2}", example):
        return "clock"
    return None


def code_like(text: str) -> bool:
    """``"EUR"``, ``"€"``, ``"+81"``: short, and not a capitalised word like ``"Euro"``."""
    return 0 < len(text) <= 4 and " " not in text and not text[1:].islower()


def shape_of(text: str) -> str:
    """``"EUR"`` → ``"A"``, ``"+81"`` → ``"+9"``: character classes, runs collapsed."""
    out: list[str] = []
    for ch in text:
        cls = "A" if ch.isupper() else "a" if ch.islower() else "9" if ch.isdigit() else ch
        if not out or out[-1] != cls:
            out.append(cls)
    return "".join(out)


# (tokens that must all appear, low, high, decimals) — first match wins, so specific rules
# ("price level", "change percent") come before general ones ("price", "percent")
_NUMBER_RULES: tuple[tuple[frozenset[str], float, float, int], ...] = tuple(
    (frozenset(words.split()), low, high, decimals) for words, low, high, decimals in (
        ("lat", -90, 90, 4), ("latitude", -90, 90, 4), ("lon", -180, 180, 4), ("lng", -180, 180, 4),
        ("longitude", -180, 180, 4),
        ("change percent", -5, 5, 2), ("price level", 1, 4, 0), ("visibility", 1, 20, 1),
        ("probability", 0, 100, 0), ("percent", 0, 100, 1), ("percentage", 0, 100, 1),
        ("humidity", 20, 95, 0), ("confidence", 0.5, 1, 2), ("popularity", 1, 100, 1),
        ("stars", 1, 5, 0), ("rating", 1, 5, 1), ("score", 0, 10, 1),
        ("price", 5, 450, 2), ("amount", 5, 450, 2), ("subtotal", 5, 800, 2), ("total", 5, 900, 2),
        ("tax", 0.5, 60, 2), ("cost", 5, 450, 2), ("fee", 1, 40, 2), ("shipping", 0, 25, 2),
        ("fare", 40, 900, 2), ("balance", 10, 5000, 2), ("refund", 5, 450, 2), ("salary", 30000, 150000, 0),
        ("revenue", 1e6, 5e9, 0), ("market cap", 1e9, 2e12, 0), ("volume", 1e5, 5e7, 0),
        ("employees", 50, 200000, 0), ("population", 50000, 9000000, 0),
        ("year", 1960, 2025, 0), ("founded", 1900, 2020, 0), ("season", 2015, 2025, 0), ("age", 18, 85, 0),
        ("temperature", -5, 35, 1), ("temp", -5, 35, 1), ("feels", -5, 35, 1),
        ("distance center", 0.1, 12, 1), ("distance", 0.5, 2500, 1), ("km", 0.5, 2500, 1),
        ("minutes", 15, 240, 0), ("duration", 15, 240, 0), ("hours", 1, 14, 1), ("days", 1, 10, 0),
        ("speed", 0, 30, 1),
        ("deg", 0, 359, 0), ("degrees", 0, 359, 0), ("bearing", 0, 359, 0), ("pressure", 985, 1035, 0),
        ("hpa", 985, 1035, 0), ("aqi", 10, 180, 0), ("uv", 0, 11, 0), ("pm2", 1, 60, 1), ("pm10", 1, 80, 1),
        ("o3", 5, 120, 1), ("no2", 1, 60, 1), ("precipitation", 0, 20, 1),
        ("calories", 120, 900, 0), ("g", 1, 60, 1), ("mm", 0, 20, 1), ("decimals", 0, 3, 0),
        ("change", -5, 5, 2), ("open", 10, 500, 2), ("close", 10, 500, 2), ("high", 10, 500, 2),
        ("low", 10, 500, 2), ("rate", 0.5, 1.6, 4),
        ("count", 3, 400, 0), ("quantity", 1, 5, 0), ("guests", 1, 4, 0), ("nights", 1, 7, 0),
        ("passengers", 1, 4, 0), ("party", 1, 6, 0), ("servings", 1, 6, 0), ("stops", 0, 2, 0),
        ("page", 1, 1, 0), ("offset", 0, 0, 0), ("limit", 10, 20, 0), ("per page", 10, 20, 0),
        ("position", 1, 20, 0), ("rank", 1, 20, 0), ("order", 1, 20, 0), ("round", 1, 30, 0),
        ("screen", 1, 12, 0), ("screens", 4, 16, 0), ("capacity", 10, 300, 0), ("attendance", 8000, 75000, 0),
        ("home", 0, 4, 0), ("away", 0, 4, 0), ("points", 0, 90, 0), ("goals", 0, 80, 0), ("won", 0, 30, 0),
        ("lost", 0, 30, 0), ("drawn", 0, 15, 0), ("played", 1, 38, 0), ("level", 1, 4, 0),
        ("size", 1, 100, 0),
    )
)


@lru_cache(maxsize=8192)
def number_rule(tokens: tuple[str, ...], integer: bool) -> tuple[float, float, int] | None:
    words = set(tokens)
    for needed, low, high, decimals in _NUMBER_RULES:
        if needed <= words:
            if integer and "rating" in needed:
                return 1, 5, 0
            return low, high, decimals
    return None


def entity_of(tokens: Sequence[str]) -> str | None:
    """What records named ``tokens`` are, when their ``name`` field says more than a label:
    ``nearest_city`` → city, ``director`` → person, ``airline`` → company."""
    words = {singular_of(t) for t in tokens} | set(tokens)
    if words & {"city", "capital", "town", "birthplace", "hometown"}:
        return "city"
    if "country" in words:
        return "country"
    if words & _PERSON_TOKENS or words & {"people", "contact", "cast", "crew", "staff", "guest"}:
        return "person"
    if words & _COMPANY_TOKENS:
        return "company"
    return None
