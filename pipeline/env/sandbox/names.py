"""Pools of realistic words that generated records are built from.

Records are combinations drawn from these pools with a seeded stream, which keeps the data
varied and believable without shipping thousands of literal rows.
"""

from __future__ import annotations

import random

FIRST_NAMES = [
    "Alex",
    "Amara",
    "Ana",
    "Andrea",
    "Arjun",
    "Ben",
    "Camille",
    "Carlos",
    "Chen",
    "Chloe",
    "Daniel",
    "Diego",
    "Elena",
    "Emma",
    "Farah",
    "Felix",
    "Gabriel",
    "Hana",
    "Hugo",
    "Isabel",
    "Ivan",
    "Jamal",
    "James",
    "Jin",
    "Julia",
    "Kai",
    "Kenji",
    "Laura",
    "Leila",
    "Liam",
    "Lucas",
    "Maya",
    "Mei",
    "Mohammed",
    "Nadia",
    "Noah",
    "Olivia",
    "Omar",
    "Paula",
    "Priya",
    "Rafael",
    "Rosa",
    "Sam",
    "Sara",
    "Sofia",
    "Tariq",
    "Thomas",
    "Valentina",
    "Wei",
    "Yuki",
    "Zoe",
]

LAST_NAMES = [
    "Adeyemi",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Becker",
    "Bianchi",
    "Brown",
    "Castro",
    "Chen",
    "Costa",
    "Dubois",
    "Fischer",
    "Garcia",
    "Gonzalez",
    "Haddad",
    "Hoffmann",
    "Ito",
    "Jansen",
    "Kim",
    "Kowalski",
    "Kumar",
    "Lambert",
    "Lee",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "O'Brien",
    "Park",
    "Patel",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Vargas",
    "Walker",
    "Weber",
    "Williams",
    "Wilson",
    "Yilmaz",
    "Zhang",
]

STREETS: dict[str, tuple[str, ...]] = {
    "fr": (
        "Rue de la Paix",
        "Rue Saint-Honoré",
        "Boulevard Haussmann",
        "Avenue Victor Hugo",
        "Rue de Rivoli",
        "Quai des Belges",
    ),
    "en": (
        "High Street",
        "Park Avenue",
        "King Street",
        "Market Street",
        "Church Road",
        "Riverside Drive",
        "Queen Street",
    ),
    "de": (
        "Hauptstraße",
        "Bahnhofstraße",
        "Gartenstraße",
        "Schillerstraße",
        "Lindenallee",
        "Kärntner Straße",
    ),
    "es": ("Calle Mayor", "Gran Vía", "Calle de Alcalá", "Paseo del Prado", "Avenida Reforma", "Calle Real"),
    "it": ("Via Roma", "Via Garibaldi", "Corso Italia", "Via Dante", "Via Veneto", "Corso Buenos Aires"),
    "pt": ("Rua Augusta", "Avenida da Liberdade", "Rua do Comércio", "Avenida Paulista", "Rua das Flores"),
    "nl": ("Prinsengracht", "Kalverstraat", "Damrak", "Herengracht", "Leidsestraat"),
    "ja": ("Chuo-dori", "Omotesando", "Meiji-dori", "Midosuji", "Yasukuni-dori"),
    "ko": ("Sejong-daero", "Teheran-ro", "Itaewon-ro", "Gangnam-daero"),
    "ar": ("Sheikh Zayed Road", "Al Wasl Road", "Tahrir Street", "Jumeirah Beach Road"),
    "hi": ("Marine Drive", "Linking Road", "Colaba Causeway", "Hill Road"),
    "tr": ("İstiklal Caddesi", "Bağdat Caddesi", "Halaskargazi Caddesi", "Cumhuriyet Caddesi"),
}


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def email_for(name: str, domain: str = "example.com") -> str:
    local = ".".join(part.lower() for part in name.split())
    local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch == "."))
    return f"{local}@{domain}"


def street_address(rng: random.Random, language: str) -> str:
    street = rng.choice(STREETS.get(language, STREETS["en"]))
    number = rng.randint(1, 220)
    # French, Portuguese and English put the number first; most others after the street.
    return f"{number} {street}" if language in ("fr", "en", "pt") else f"{street} {number}"


def phone_number(rng: random.Random, calling_code: str) -> str:
    return f"{calling_code} {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
