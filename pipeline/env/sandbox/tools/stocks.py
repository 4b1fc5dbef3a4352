"""MarketPulse Stocks: symbol search, quotes, price history, company profiles, market movers.

Requires an API key in the ``api_key`` query parameter. Prices are a seeded random walk per
symbol over the trading days up to the sandbox's today, quoted in the exchange's currency
(feed them to FXRates to convert).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..core import Call, Handler, fold, seeded
from ..errors import not_found
from ..names import person_name
from ..world import CITIES, TODAY

EXCHANGE_CURRENCY = {
    "NASDAQ": "USD",
    "NYSE": "USD",
    "LSE": "GBP",
    "XETRA": "EUR",
    "EURONEXT": "EUR",
    "TSE": "JPY",
    "TSX": "CAD",
}
HISTORY_DAYS = 400
SECTOR_BLURB = {
    "Technology": "designs and sells technology products and services",
    "Energy": "produces and distributes energy",
    "Healthcare": "develops medicines and healthcare products",
    "Financials": "provides financial services",
    "Consumer Discretionary": "makes and sells consumer products",
    "Consumer Staples": "produces everyday consumer staples",
    "Industrials": "serves industrial customers",
    "Materials": "supplies raw materials",
    "Communication Services": "provides communication services",
    "Utilities": "operates regulated utility networks",
}


@dataclass(frozen=True)
class Company:
    symbol: str
    name: str
    exchange: str
    sector: str
    industry: str
    city_id: int
    reference_price: float

    @property
    def currency(self) -> str:
        return EXCHANGE_CURRENCY[self.exchange]


COMPANIES = {
    r[0]: Company(r[0], r[1], r[2], r[3], r[4], int(r[5]), float(r[6]))
    for r in (
        [cell.strip() for cell in line.split("|")]
        for line in """
        NWRB | Northwind Robotics       | NASDAQ   | Technology             | Industrial robots       | 5391959 | 142
        BLPK | Bluepeak Software        | NASDAQ   | Technology             | Enterprise software     | 5391959 | 318
        AURS | Aurora Semiconductors    | NASDAQ   | Technology             | Semiconductors          | 5368361 | 96
        TDWL | Tidewater Logistics      | NASDAQ   | Industrials            | Freight and logistics   | 5368361 | 71
        HLRN | Helios Renewables        | NYSE     | Energy                 | Solar and wind power    | 4887398 | 54
        CRPH | Crescent Pharmaceuticals | NYSE     | Healthcare             | Pharmaceuticals         | 5128581 | 188
        GRNB | Granite Bancorp          | NYSE     | Financials             | Banking                 | 5128581 | 47
        ORCD | Orchid Retail Group      | NYSE     | Consumer Discretionary | Department stores       | 4887398 | 33
        SMFD | Summit Foods             | NYSE     | Consumer Staples       | Packaged foods          | 4887398 | 62
        ALBN | Albion Insurance         | LSE      | Financials             | Insurance               | 2643743 | 4.85
        KBMN | Kingsbridge Mining       | LSE      | Materials              | Metals and mining       | 2643743 | 21.4
        MYFT | Mayfair Telecom          | LSE      | Communication Services | Telecommunications      | 2643123 | 1.32
        RHWA | Rheinwerk Automotive     | XETRA    | Consumer Discretionary | Automobiles             | 2867714 | 88
        BVCH | Bavaria Chemie           | XETRA    | Materials              | Specialty chemicals     | 2867714 | 41
        LUMX | Lumière Luxe             | EURONEXT | Consumer Discretionary | Luxury goods            | 2988507 | 610
        SNEN | Seine Énergie            | EURONEXT | Utilities              | Electric utilities      | 2988507 | 14.2
        7215 | Fujimoto Motors          | TSE      | Consumer Discretionary | Automobiles             | 1850147 | 2450
        6791 | Sakura Electronics       | TSE      | Technology             | Consumer electronics    | 1853909 | 8900
        MPLR | Maple Leaf Rail          | TSX      | Industrials            | Railroads               | 6167865 | 118
        NRTH | Northern Lights Energy   | TSX      | Energy                 | Oil and gas             | 6167865 | 36
        """.strip().splitlines()
    )
}


@dataclass(frozen=True)
class Bar:
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: int


def trading_days(last: date, count: int) -> list[date]:
    days: list[date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def price_history(seed: int, company: Company) -> list[Bar]:
    rng = seeded(seed, "prices", company.symbol)
    price = company.reference_price * rng.uniform(0.75, 1.1)
    drift, volatility = rng.uniform(-0.0004, 0.0012), rng.uniform(0.008, 0.026)
    base_volume = rng.uniform(0.3, 12) * 1e6 / max(1.0, company.reference_price / 150)
    bars = []
    for day in trading_days(TODAY - timedelta(days=1), HISTORY_DAYS):
        open_ = price * (1 + rng.gauss(0, volatility / 3))
        close = open_ * (1 + rng.gauss(drift, volatility))
        high = max(open_, close) * (1 + abs(rng.gauss(0, volatility / 2)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, volatility / 2)))
        bars.append(
            Bar(
                day,
                _price(open_),
                _price(high),
                _price(low),
                _price(close),
                int(base_volume * rng.uniform(0.5, 1.8)),
            )
        )
        price = close
    return bars


def _price(value: float) -> float:
    return round(value, 0 if value >= 1000 else 2)


class StocksTool:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.history = {symbol: price_history(seed, company) for symbol, company in COMPANIES.items()}

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchSymbols": self.search,
            "getQuote": self.quote,
            "getPriceHistory": self.get_history,
            "getCompanyProfile": self.profile,
            "getMarketMovers": self.movers,
        }

    def search(self, call: Call) -> Any:
        needle = fold(call["q"])
        found = [
            c
            for c in COMPANIES.values()
            if needle in fold(c.name) or needle == fold(c.symbol) or needle in fold(c.industry)
        ]
        if call.get("exchange"):
            found = [c for c in found if c.exchange == call["exchange"]]
        results = [
            {
                "symbol": c.symbol,
                "name": c.name,
                "exchange": c.exchange,
                "currency": c.currency,
                "sector": c.sector,
            }
            for c in found
        ]
        return {"results": results, "total": len(results)}

    def quote(self, call: Call) -> Any:
        company = self._company(call["symbol"])
        return self._quote(company)

    def get_history(self, call: Call) -> Any:
        company = self._company(call["symbol"])
        first = TODAY - timedelta(days=call["days"])
        bars = [b for b in self.history[company.symbol] if b.day >= first]
        if call["interval"] == "weekly":
            bars = _weekly(bars)
        return {
            "symbol": company.symbol,
            "currency": company.currency,
            "interval": call["interval"],
            "prices": [
                {
                    "date": b.day.isoformat(),
                    "open": b.open,
                    "high": b.high,
                    "low": b.low,
                    "close": b.close,
                    "volume": b.volume,
                }
                for b in bars
            ],
        }

    def profile(self, call: Call) -> Any:
        company = self._company(call["symbol"])
        rng = seeded(self.seed, "profile", company.symbol)
        city = CITIES[company.city_id]
        slug = "".join(ch for ch in fold(company.name) if ch.isalnum())
        return {
            "symbol": company.symbol,
            "name": company.name,
            "exchange": company.exchange,
            "currency": company.currency,
            "sector": company.sector,
            "industry": company.industry,
            "description": (
                f"{company.name} {SECTOR_BLURB[company.sector]}, specialising in {company.industry.lower()}. "
                f"It is headquartered in {city.name}."
            ),
            "ceo": person_name(rng),
            "employees": rng.randrange(800, 120000, 50),
            "founded": rng.randint(1890, 2012),
            "headquarters": {"city_id": city.id, "city": city.name, "country_code": city.country_code},
            "website": f"https://www.{slug}.example",
            "market_cap": self._market_cap(company),
        }

    def movers(self, call: Call) -> Any:
        companies = [
            c for c in COMPANIES.values() if not call.get("exchange") or c.exchange == call["exchange"]
        ]
        quotes = sorted(
            (self._quote(c) for c in companies),
            key=lambda q: q["change_percent"],
            reverse=call["direction"] == "gainers",
        )
        keys = ("symbol", "name", "exchange", "price", "change", "change_percent", "currency")
        return {
            "direction": call["direction"],
            "as_of": quotes[0]["as_of"] if quotes else TODAY.isoformat(),
            "results": [{k: q[k] for k in keys} for q in quotes[: call["limit"]]],
        }

    def _quote(self, company: Company) -> dict[str, Any]:
        bars = self.history[company.symbol]
        last, previous = bars[-1], bars[-2]
        change = last.close - previous.close
        return {
            "symbol": company.symbol,
            "name": company.name,
            "exchange": company.exchange,
            "currency": company.currency,
            "price": last.close,
            "change": round(change, 2),
            "change_percent": round(100 * change / previous.close, 2),
            "open": last.open,
            "high": last.high,
            "low": last.low,
            "previous_close": previous.close,
            "volume": last.volume,
            "market_cap": self._market_cap(company),
            "as_of": f"{last.day.isoformat()}T20:00:00Z",
            "market_status": "open" if TODAY.weekday() < 5 else "closed",
        }

    def _market_cap(self, company: Company) -> int:
        shares = seeded(self.seed, "shares", company.symbol).uniform(0.05, 3.0) * 1e9
        return int(shares * self.history[company.symbol][-1].close)

    def _company(self, symbol: str) -> Company:
        company = COMPANIES.get(symbol.upper())
        if company is None:
            raise not_found("listed company", symbol, param="symbol", key="symbol")
        return company


def _weekly(bars: list[Bar]) -> list[Bar]:
    weeks: dict[tuple[int, int], list[Bar]] = {}
    for bar in bars:
        weeks.setdefault(bar.day.isocalendar()[:2], []).append(bar)
    return [
        Bar(
            group[0].day,
            group[0].open,
            max(b.high for b in group),
            min(b.low for b in group),
            group[-1].close,
            sum(b.volume for b in group),
        )
        for group in weeks.values()
    ]
