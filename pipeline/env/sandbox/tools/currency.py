"""FXRates Currency: exchange rates (latest and historical) and conversion.

A rate is a pure function of (seed, currency, date): the reference rate from the world table
moved by a slow seasonal swing and a little daily noise, so historical series look plausible
and every conversion is reproducible. Rates are quoted against the US dollar internally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..core import Call, Handler, seeded
from ..errors import bad_request
from ..world import CURRENCIES, TODAY

FIRST_HISTORICAL_DATE = date(2015, 1, 1)


def usd_rate(seed: int, code: str, day: date) -> float:
    """Units of ``code`` per US dollar on ``day``."""
    if code == "USD":
        return 1.0
    phase = seeded(seed, "fx-phase", code).random()
    swing = 0.04 * math.sin(2 * math.pi * (day.toordinal() / 365.25 + phase))
    noise = seeded(seed, "fx", code, day.isoformat()).uniform(-0.004, 0.004)
    return CURRENCIES[code].per_usd * (1 + swing + noise)


def cross_rate(seed: int, base: str, quote: str, day: date) -> float:
    """Units of ``quote`` per one unit of ``base``."""
    return usd_rate(seed, quote, day) / usd_rate(seed, base, day)


def _round_rate(rate: float) -> float:
    return float(f"{rate:.6g}")


class CurrencyTool:
    def __init__(self, seed: int) -> None:
        self.seed = seed

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "listCurrencies": self.list_currencies,
            "getLatestRates": self.latest,
            "convertCurrency": self.convert,
            "getHistoricalRates": self.historical,
        }

    def list_currencies(self, call: Call) -> Any:
        currencies = [
            {"code": c.code, "name": c.name, "symbol": c.symbol, "decimals": c.decimals}
            for c in CURRENCIES.values()
        ]
        return {"results": currencies, "total": len(currencies)}

    def latest(self, call: Call) -> Any:
        return self._table(call["base"], call.get("symbols"), TODAY)

    def historical(self, call: Call) -> Any:
        day = date.fromisoformat(call["date"])
        if not FIRST_HISTORICAL_DATE <= day <= TODAY:
            raise bad_request(f"date must be between {FIRST_HISTORICAL_DATE} and {TODAY}.", param="date")
        return self._table(call["base"], call.get("symbols"), day)

    def convert(self, call: Call) -> Any:
        source, target, amount = call["from"], call["to"], call["amount"]
        rate = _round_rate(cross_rate(self.seed, source, target, TODAY))
        decimals = CURRENCIES[target].decimals
        return {
            "from": source,
            "to": target,
            "amount": amount,
            "rate": rate,
            "result": round(amount * rate, decimals),
            "date": TODAY.isoformat(),
        }

    def _table(self, base: str, symbols: Sequence[str] | None, day: date) -> dict[str, Any]:
        codes = list(dict.fromkeys(symbols)) if symbols else [c for c in CURRENCIES if c != base]
        return {
            "base": base,
            "date": day.isoformat(),
            "rates": {code: _round_rate(cross_rate(self.seed, base, code, day)) for code in codes},
        }
