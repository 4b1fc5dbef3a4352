"""Hand-written seed examples shown to the instruction writer (ToolBench's in-context examples).

Each seed is tied to a small toy API documentation: ``apis`` maps ``"tool/api"`` to a one-line
description, so the example shows a query, the calls it needs, and nothing the model could copy
from the real catalog. Single-tool seeds (one tool, calls of that tool) go into G1 prompts,
multi-tool seeds (2–4 tools, often chained: one call's output feeds the next) into G2/G3.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Seed:
    query: str
    relevant_apis: tuple[tuple[str, str], ...]
    apis: dict[str, str]  # "tool/api" -> what the toy API does


def _seed(query: str, apis: dict[str, str]) -> Seed:
    return Seed(query=query, relevant_apis=tuple(_tool_and_api(key) for key in apis), apis=apis)


def _tool_and_api(key: str) -> tuple[str, str]:
    tool, api = key.split("/", 1)
    return tool, api


SINGLE_TOOL_SEEDS: tuple[Seed, ...] = (
    _seed(
        "I'm flying into Lisbon on Thursday and can't decide what to pack. What's the forecast for "
        "Lisbon for the next 3 days in Celsius, and is there any rain warning active right now?",
        {"Weatherly/daily_forecast": "forecast for a city, days 1-7, units metric|imperial",
         "Weatherly/weather_alerts": "active warnings for a city"},
    ),
    _seed(
        "Convert 250 euros to Japanese yen at today's rate, and also show me how the EUR/JPY rate "
        "moved between 2024-01-01 and 2024-03-31.",
        {"CoinBridge/convert": "convert an amount between two currency codes",
         "CoinBridge/historical_rates": "rates for a currency pair over a date range"},
    ),
    _seed(
        "hey, can you find vegetarian lasagna recipes that take under 45 minutes and then give me "
        "the full ingredient list for the top one?",
        {"CookBook/search_recipes": "search recipes by text, diet and max minutes",
         "CookBook/recipe_details": "ingredients and steps of a recipe id"},
    ),
    _seed(
        "Please put a 30-minute 'Quarterly budget review' on my calendar for 2025-07-08 at 14:00 "
        "Europe/Berlin time, but first check that I'm actually free that afternoon.",
        {"PlanIt/free_slots": "free time slots on a day",
         "PlanIt/create_event": "create an event with title, start and duration"},
    ),
    _seed(
        "My order #A-88213 still hasn't arrived. What's its current shipping status, and if it is "
        "lost, open a return request for it with the reason 'never delivered'.",
        {"ParcelDesk/order_status": "status and tracking of an order id",
         "ParcelDesk/create_return": "open a return for an order with a reason"},
    ),
    _seed(
        "Translate 'Where is the nearest pharmacy?' into Korean and Brazilian Portuguese, and tell "
        "me which language this sentence is written in: 'Dov'è la stazione?'",
        {"Polyglot/translate": "translate text to a target language code",
         "Polyglot/detect_language": "detect the language of a text"},
    ),
    _seed(
        "I follow Arsenal. Give me the Premier League table for the 2023 season and the results of "
        "Arsenal's last 5 matches.",
        {"GoalLine/standings": "league table for a league id and season",
         "GoalLine/team_matches": "recent matches of a team, with a limit"},
    ),
    _seed(
        "What were the opening and closing prices of NVDA on 2024-05-22, and what's the latest "
        "news headline about the company?",
        {"TickerTape/daily_prices": "open/high/low/close of a symbol on a date",
         "TickerTape/company_news": "latest news for a symbol"},
    ),
    _seed(
        "Send an email to priya.shah@example.org with the subject 'Slides for Monday' saying the "
        "deck is in the shared drive, then list my last 10 unread messages.",
        {"MailRoom/send_message": "send an email with to, subject and body",
         "MailRoom/list_messages": "list messages, filter unread, limit"},
    ),
    _seed(
        "Is there a double room available at the Harbor View Inn from 2025-09-12 to 2025-09-15 for "
        "2 adults? If so, what does it cost per night and what's the cancellation policy?",
        {"RoomRadar/availability": "rooms free for a hotel, dates and guests",
         "RoomRadar/hotel_policies": "cancellation and check-in policies of a hotel"},
    ),
    _seed(
        "Could you look up the film 'Arrival' (2016), tell me who directed it, and list five movies "
        "similar to it?",
        {"FilmFinder/search_movies": "search movies by title and year",
         "FilmFinder/similar_movies": "movies similar to a movie id"},
    ),
    _seed(
        "What's the distance in kilometres between Vienna and Bratislava, and what time zone is "
        "Bratislava in?",
        {"MapMate/distance": "great-circle distance between two places",
         "MapMate/timezone": "time zone of a place"},
    ),
)

MULTI_TOOL_SEEDS: tuple[Seed, ...] = (
    _seed(
        "I'm planning a weekend in Barcelona from 2025-05-16 to 2025-05-18. Find me a flight from "
        "Amsterdam for 1 adult on the 16th, a hotel under 180 EUR a night near the Gothic Quarter, "
        "and the weather forecast for those days.",
        {"JetFinder/search_flights": "flights between two airports on a date",
         "RoomRadar/search_hotels": "hotels in a city with price limit",
         "Weatherly/daily_forecast": "forecast for a city"},
    ),
    _seed(
        "My team in Tokyo is hosting a dinner on 2025-11-04. Find a sushi restaurant in Shinjuku "
        "that takes parties of 8, book it for 19:30, and add the booking to my calendar.",
        {"TableSpot/search_restaurants": "restaurants by city, cuisine, area",
         "TableSpot/book_table": "reserve a table for a party size and time",
         "PlanIt/create_event": "create a calendar event"},
    ),
    _seed(
        "I get paid in US dollars but live in Mexico City. How much is 1,200 USD in pesos today, "
        "and what's the cheapest laptop under that amount in the ElectroMart catalogue?",
        {"CoinBridge/convert": "convert an amount between currencies",
         "ElectroMart/search_products": "search products with a max price"},
    ),
    _seed(
        "Find tonight's showtimes for 'Dune: Part Two' at cinemas in Manchester, then pull up its "
        "cast and IMDb-style rating so I can convince my friends.",
        {"ScreenTime/showtimes": "showtimes of a movie in a city on a date",
         "FilmFinder/movie_details": "cast and ratings of a movie id"},
    ),
    _seed(
        "We're a small bakery. Look up the stock price trend of Starbucks (SBUX) over the last "
        "month, grab the latest coffee-bean commodity news, and email a short summary to "
        "owner@crumbsbakery.co.",
        {"TickerTape/price_history": "daily prices of a symbol for a range",
         "NewsWire/search_news": "news articles matching a topic",
         "MailRoom/send_message": "send an email"},
    ),
    _seed(
        "Get the coordinates of Reykjavik, then use them to check whether the northern lights are "
        "likely tonight (cloud cover below 30%), and translate the answer into Icelandic for my "
        "host.",
        {"MapMate/geocode": "coordinates of a place name",
         "Weatherly/hourly_forecast": "hourly forecast at latitude/longitude",
         "Polyglot/translate": "translate text"},
    ),
    _seed(
        "Which matches does Bayern Munich play in March 2025? For the home games, find hotels in "
        "Munich with at least 4 stars for the night of each match.",
        {"GoalLine/team_fixtures": "fixtures of a team in a date range",
         "RoomRadar/search_hotels": "hotels in a city for a date, min stars"},
    ),
    _seed(
        "My grandmother only reads Spanish. Find an easy chicken soup recipe with fewer than 8 "
        "ingredients, translate the steps into Spanish and send them to abuela.rosa@example.com.",
        {"CookBook/search_recipes": "search recipes",
         "CookBook/recipe_details": "steps of a recipe id",
         "Polyglot/translate": "translate text",
         "MailRoom/send_message": "send an email"},
    ),
    _seed(
        "I'm comparing two job offers, one in Zurich and one in Dublin. Convert 120,000 CHF and "
        "95,000 EUR to GBP, and tell me the average July temperature in both cities.",
        {"CoinBridge/convert": "convert an amount between currencies",
         "Weatherly/climate_normals": "monthly climate averages of a city"},
    ),
    _seed(
        "Search for flights from Chicago O'Hare to Denver on 2025-12-20, pick the earliest one, "
        "and put its departure and arrival times on my calendar with a reminder 2 hours before.",
        {"JetFinder/search_flights": "flights between two airports on a date",
         "JetFinder/flight_details": "times and terminals of a flight id",
         "PlanIt/create_event": "create an event with a reminder"},
    ),
    _seed(
        "Look up which cities are within 100 km of Florence, then give me the 3-day forecast for "
        "the two closest ones so I can plan day trips.",
        {"MapMate/nearby_cities": "cities within a radius of a place",
         "Weatherly/daily_forecast": "forecast for a city"},
    ),
    _seed(
        "ok so my watch arrived broken (order 55-0192). Check the order, start a return, and send "
        "a polite complaint in German to kundendienst@uhrenhaus.de with the return number.",
        {"ParcelDesk/order_status": "status of an order",
         "ParcelDesk/create_return": "open a return",
         "Polyglot/translate": "translate text",
         "MailRoom/send_message": "send an email"},
    ),
)


def choose_seeds(group: str, key: str, count: int = 3) -> list[Seed]:
    """``count`` seeds for a prompt: single-tool ones for G1, multi-tool ones otherwise, chosen
    by ``key`` (the API set id and sample), so the same prompt always shows the same seeds."""
    pool = SINGLE_TOOL_SEEDS if group == "G1" else MULTI_TOOL_SEEDS
    return random.Random(f"seeds:{key}").sample(list(pool), min(count, len(pool)))
