"""The shared world every sandbox tool lives in: real countries, cities, airports, currencies.

These are constants, not seeded: a city id means the same city in every tool and every seed,
which is what lets one tool's output be another tool's input. Seeds vary what is generated on
top (hotels, prices, weather ...). The sandbox clock is fixed so that runs are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

TODAY = date(2025, 6, 1)
"""The sandbox's 'today' (a Sunday): forecasts, showtimes and history are relative to it."""
NOW_ISO = "2025-06-01T09:00:00Z"


@dataclass(frozen=True)
class Currency:
    code: str
    name: str
    symbol: str
    per_usd: float  # reference rate; the currency tool varies it by seed and date
    decimals: int = 2


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    continent: str
    capital: str
    currency: str
    languages: tuple[str, ...]
    calling_code: str


@dataclass(frozen=True)
class City:
    id: int
    name: str
    country_code: str
    lat: float
    lon: float
    population: int
    timezone: str
    cost_index: float  # relative price level, 1.0 = New York


@dataclass(frozen=True)
class Airport:
    iata: str
    name: str
    city_id: int
    lat: float
    lon: float


def _rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("|")] for line in text.strip().splitlines()]


CURRENCIES: dict[str, Currency] = {
    r[0]: Currency(r[0], r[1], r[2], float(r[3]), int(r[4]))
    for r in _rows("""
    USD | US Dollar          | $   | 1.0    | 2
    EUR | Euro               | €   | 0.92   | 2
    GBP | British Pound      | £   | 0.79   | 2
    JPY | Japanese Yen       | ¥   | 151.2  | 0
    AUD | Australian Dollar  | A$  | 1.52   | 2
    CAD | Canadian Dollar    | C$  | 1.36   | 2
    CHF | Swiss Franc        | CHF | 0.90   | 2
    CNY | Chinese Yuan       | ¥   | 7.23   | 2
    SGD | Singapore Dollar   | S$  | 1.34   | 2
    AED | UAE Dirham         | AED | 3.6725 | 2
    MXN | Mexican Peso       | MX$ | 17.05  | 2
    BRL | Brazilian Real     | R$  | 5.05   | 2
    EGP | Egyptian Pound     | E£  | 47.5   | 2
    INR | Indian Rupee       | ₹   | 83.4   | 2
    KRW | South Korean Won   | ₩   | 1345.0 | 0
    TRY | Turkish Lira       | ₺   | 32.2   | 2
    SEK | Swedish Krona      | kr  | 10.6   | 2
    NOK | Norwegian Krone    | kr  | 10.7   | 2
    HKD | Hong Kong Dollar   | HK$ | 7.82   | 2
    ZAR | South African Rand | R   | 18.6   | 2
    """)
}

COUNTRIES: dict[str, Country] = {
    r[0]: Country(r[0], r[1], r[2], r[3], r[4], tuple(r[5].split(",")), r[6])
    for r in _rows("""
    FR | France               | Europe        | Paris          | EUR | fr          | +33
    GB | United Kingdom       | Europe        | London         | GBP | en          | +44
    US | United States        | North America | Washington, D.C. | USD | en        | +1
    JP | Japan                | Asia          | Tokyo          | JPY | ja          | +81
    DE | Germany              | Europe        | Berlin         | EUR | de          | +49
    ES | Spain                | Europe        | Madrid         | EUR | es          | +34
    IT | Italy                | Europe        | Rome           | EUR | it          | +39
    AU | Australia            | Oceania       | Canberra       | AUD | en          | +61
    CA | Canada               | North America | Ottawa         | CAD | en,fr       | +1
    NL | Netherlands          | Europe        | Amsterdam      | EUR | nl          | +31
    PT | Portugal             | Europe        | Lisbon         | EUR | pt          | +351
    SG | Singapore            | Asia          | Singapore      | SGD | en,ms,zh,ta | +65
    AE | United Arab Emirates | Asia          | Abu Dhabi      | AED | ar          | +971
    MX | Mexico               | North America | Mexico City    | MXN | es          | +52
    BR | Brazil               | South America | Brasília       | BRL | pt          | +55
    EG | Egypt                | Africa        | Cairo          | EGP | ar          | +20
    IN | India                | Asia          | New Delhi      | INR | hi,en       | +91
    KR | South Korea          | Asia          | Seoul          | KRW | ko          | +82
    TR | Turkey               | Europe        | Ankara         | TRY | tr          | +90
    AT | Austria              | Europe        | Vienna         | EUR | de          | +43
    """)
}

CITIES: dict[int, City] = {
    int(r[0]): City(int(r[0]), r[1], r[2], float(r[3]), float(r[4]), int(r[5]), r[6], float(r[7]))
    for r in _rows("""
    2988507 | Paris         | FR | 48.8566  | 2.3522    | 2148000  | Europe/Paris        | 0.92
    2995469 | Marseille     | FR | 43.2965  | 5.3698    | 870000   | Europe/Paris        | 0.74
    2643743 | London        | GB | 51.5074  | -0.1278   | 8982000  | Europe/London       | 0.98
    2643123 | Manchester    | GB | 53.4808  | -2.2426   | 553000   | Europe/London       | 0.72
    5128581 | New York      | US | 40.7128  | -74.0060  | 8336000  | America/New_York    | 1.00
    5391959 | San Francisco | US | 37.7749  | -122.4194 | 815000   | America/Los_Angeles | 1.02
    5368361 | Los Angeles   | US | 34.0522  | -118.2437 | 3898000  | America/Los_Angeles | 0.88
    4887398 | Chicago       | US | 41.8781  | -87.6298  | 2746000  | America/Chicago     | 0.80
    6167865 | Toronto       | CA | 43.6532  | -79.3832  | 2794000  | America/Toronto     | 0.76
    3530597 | Mexico City   | MX | 19.4326  | -99.1332  | 9209000  | America/Mexico_City | 0.45
    3448439 | São Paulo     | BR | -23.5505 | -46.6333  | 12330000 | America/Sao_Paulo   | 0.48
    1850147 | Tokyo         | JP | 35.6762  | 139.6503  | 13960000 | Asia/Tokyo          | 0.85
    1853909 | Osaka         | JP | 34.6937  | 135.5023  | 2750000  | Asia/Tokyo          | 0.72
    1835848 | Seoul         | KR | 37.5665  | 126.9780  | 9776000  | Asia/Seoul          | 0.78
    1880252 | Singapore     | SG | 1.3521   | 103.8198  | 5686000  | Asia/Singapore      | 0.90
    1275339 | Mumbai        | IN | 19.0760  | 72.8777   | 12440000 | Asia/Kolkata        | 0.32
    292223  | Dubai         | AE | 25.2048  | 55.2708   | 3331000  | Asia/Dubai          | 0.80
    2147714 | Sydney        | AU | -33.8688 | 151.2093  | 5312000  | Australia/Sydney    | 0.86
    2950159 | Berlin        | DE | 52.5200  | 13.4050   | 3645000  | Europe/Berlin       | 0.75
    2867714 | Munich        | DE | 48.1351  | 11.5820   | 1488000  | Europe/Berlin       | 0.84
    3117735 | Madrid        | ES | 40.4168  | -3.7038   | 3223000  | Europe/Madrid       | 0.68
    3128760 | Barcelona     | ES | 41.3874  | 2.1686    | 1620000  | Europe/Madrid       | 0.72
    3169070 | Rome          | IT | 41.9028  | 12.4964   | 2873000  | Europe/Rome         | 0.74
    3173435 | Milan         | IT | 45.4642  | 9.1900    | 1352000  | Europe/Rome         | 0.80
    2759794 | Amsterdam     | NL | 52.3676  | 4.9041    | 872000   | Europe/Amsterdam    | 0.86
    2267057 | Lisbon        | PT | 38.7223  | -9.1393   | 545000   | Europe/Lisbon       | 0.62
    2761369 | Vienna        | AT | 48.2082  | 16.3738   | 1897000  | Europe/Vienna       | 0.78
    745044  | Istanbul      | TR | 41.0082  | 28.9784   | 15460000 | Europe/Istanbul     | 0.42
    360630  | Cairo         | EG | 30.0444  | 31.2357   | 9540000  | Africa/Cairo        | 0.30
    """)
}

AIRPORTS: dict[str, Airport] = {
    r[0]: Airport(r[0], r[1], int(r[2]), float(r[3]), float(r[4]))
    for r in _rows("""
    CDG | Paris Charles de Gaulle Airport                | 2988507 | 49.0097  | 2.5479
    ORY | Paris Orly Airport                             | 2988507 | 48.7262  | 2.3652
    MRS | Marseille Provence Airport                     | 2995469 | 43.4393  | 5.2214
    LHR | London Heathrow Airport                        | 2643743 | 51.4700  | -0.4543
    LGW | London Gatwick Airport                         | 2643743 | 51.1537  | -0.1821
    MAN | Manchester Airport                             | 2643123 | 53.3588  | -2.2727
    JFK | John F. Kennedy International Airport          | 5128581 | 40.6413  | -73.7781
    LGA | LaGuardia Airport                              | 5128581 | 40.7769  | -73.8740
    SFO | San Francisco International Airport            | 5391959 | 37.6213  | -122.3790
    LAX | Los Angeles International Airport              | 5368361 | 33.9416  | -118.4085
    ORD | Chicago O'Hare International Airport           | 4887398 | 41.9742  | -87.9073
    YYZ | Toronto Pearson International Airport          | 6167865 | 43.6777  | -79.6248
    MEX | Mexico City International Airport              | 3530597 | 19.4361  | -99.0719
    GRU | São Paulo/Guarulhos International Airport      | 3448439 | -23.4356 | -46.4731
    HND | Tokyo Haneda Airport                           | 1850147 | 35.5494  | 139.7798
    NRT | Narita International Airport                   | 1850147 | 35.7720  | 140.3929
    KIX | Kansai International Airport                   | 1853909 | 34.4320  | 135.2304
    ICN | Incheon International Airport                  | 1835848 | 37.4602  | 126.4407
    SIN | Singapore Changi Airport                       | 1880252 | 1.3644   | 103.9915
    BOM | Chhatrapati Shivaji Maharaj International Airport | 1275339 | 19.0896 | 72.8656
    DXB | Dubai International Airport                    | 292223  | 25.2532  | 55.3657
    SYD | Sydney Kingsford Smith Airport                 | 2147714 | -33.9399 | 151.1753
    BER | Berlin Brandenburg Airport                     | 2950159 | 52.3667  | 13.5033
    MUC | Munich Airport                                 | 2867714 | 48.3537  | 11.7750
    MAD | Adolfo Suárez Madrid-Barajas Airport           | 3117735 | 40.4983  | -3.5676
    BCN | Barcelona-El Prat Airport                      | 3128760 | 41.2974  | 2.0833
    FCO | Rome Fiumicino Airport                         | 3169070 | 41.8003  | 12.2389
    MXP | Milan Malpensa Airport                         | 3173435 | 45.6306  | 8.7281
    AMS | Amsterdam Airport Schiphol                     | 2759794 | 52.3105  | 4.7683
    LIS | Lisbon Humberto Delgado Airport                | 2267057 | 38.7756  | -9.1354
    VIE | Vienna International Airport                   | 2761369 | 48.1103  | 16.5697
    IST | Istanbul Airport                               | 745044  | 41.2753  | 28.7519
    CAI | Cairo International Airport                    | 360630  | 30.1219  | 31.4056
    """)
}


def country_of(city: City) -> Country:
    return COUNTRIES[city.country_code]


def currency_of(city: City) -> Currency:
    return CURRENCIES[COUNTRIES[city.country_code].currency]


def airports_of(city_id: int) -> list[Airport]:
    return [airport for airport in AIRPORTS.values() if airport.city_id == city_id]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def initial_bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlmb = math.radians(lon2 - lon1)
    x = math.sin(dlmb) * math.cos(phi2)
    y = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlmb)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def nearest_city(lat: float, lon: float) -> tuple[City, float]:
    """The closest sandbox city to a point and its distance in km."""
    city = min(CITIES.values(), key=lambda c: haversine_km(lat, lon, c.lat, c.lon))
    return city, haversine_km(lat, lon, city.lat, city.lon)


def local_price(usd: float, currency: Currency) -> float:
    """A price of ``usd`` US dollars expressed and rounded as people price in ``currency``."""
    amount = usd * currency.per_usd
    if currency.decimals == 0:
        step = 100 if amount >= 5000 else 10
        return float(max(step, round(amount / step) * step))
    # Menus and tickets go in half units (6.5, 13.0); larger amounts in whole units.
    return max(0.5, round(amount * 2) / 2) if amount < 20 else float(round(amount))
