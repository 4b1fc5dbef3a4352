"""FootyStats: football leagues, teams, squads, fixtures with results, and league tables.

Three leagues play a double round-robin season with weekly rounds; about 70% of the rounds
are played by the sandbox's today. Results are drawn from team strengths, and the tables are
computed from those results, so standings, fixtures and team pages always agree. Teams belong
to CityAtlas cities (``city_id``), which links a match to weather, hotels and flights.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from ..core import Call, Handler, fold, seeded
from ..errors import not_found
from ..names import LAST_NAMES, person_name
from ..pagination import page_of
from ..world import CITIES, TODAY

LEAGUES = (  # id, name, region, kickoff UTC, city names of the teams
    (
        1,
        "Continental Premier League",
        "Europe",
        "15:00",
        (
            "London",
            "Manchester",
            "Paris",
            "Marseille",
            "Berlin",
            "Munich",
            "Madrid",
            "Barcelona",
            "Rome",
            "Milan",
            "Amsterdam",
            "Lisbon",
        ),
    ),
    (
        2,
        "Americas Football League",
        "Americas",
        "23:00",
        (
            "New York",
            "New York",
            "Los Angeles",
            "Chicago",
            "San Francisco",
            "Toronto",
            "Mexico City",
            "São Paulo",
        ),
    ),
    (
        3,
        "Asia-Pacific Championship",
        "Asia-Pacific",
        "10:00",
        ("Tokyo", "Tokyo", "Osaka", "Seoul", "Singapore", "Sydney", "Mumbai", "Dubai"),
    ),
)
# Suffixes that do not recreate the name of a real club in these cities.
SUFFIXES = (
    "Athletic",
    "Rovers",
    "Wanderers",
    "Sporting",
    "Racing",
    "Olympic",
    "Albion",
    "Harriers",
    "Comets",
    "Mariners",
    "Pioneers",
    "Royals",
)
COLOURS = ("red", "blue", "white", "black", "green", "yellow", "sky blue", "claret", "orange", "navy")
POSITIONS = ("GK",) * 2 + ("DF",) * 6 + ("MF",) * 6 + ("FW",) * 4
SEASON = "2025"
PLAYED_SHARE = 0.7


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    short_name: str
    league_id: int
    city_id: int
    founded: int
    stadium: str
    capacity: int
    coach: str
    colours: tuple[str, str]
    attack: float
    defence: float


@dataclass(frozen=True)
class Player:
    id: int
    name: str
    position: str
    shirt_number: int
    age: int
    nationality: str


@dataclass(frozen=True)
class Fixture:
    id: int
    league_id: int
    round: int
    home: Team
    away: Team
    kickoff: str  # ISO date-time, UTC
    day: date
    home_goals: int | None
    away_goals: int | None
    goals: tuple[tuple[int, int, int], ...]  # (minute, team id, player id)

    @property
    def finished(self) -> bool:
        return self.home_goals is not None


class SportsTool:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.teams: dict[int, Team] = {}
        self.players: dict[int, list[Player]] = {}
        self.fixtures: dict[int, Fixture] = {}
        city_ids = {city.name: city.id for city in CITIES.values()}
        for league_id, _name, _region, kickoff, cities in LEAGUES:
            teams = []
            for number, city in enumerate(cities, start=1):
                team = self._team(league_id, number, city_ids[city])  # sees earlier teams: no duplicate names
                self.teams[team.id] = team
                self.players[team.id] = self._squad(team)
                teams.append(team)
            for fixture in self._season(league_id, teams, kickoff):
                self.fixtures[fixture.id] = fixture

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "listLeagues": self.list_leagues,
            "getStandings": self.get_standings,
            "searchTeams": self.search_teams,
            "getTeam": self.get_team,
            "listTeamPlayers": self.list_players,
            "listFixtures": self.list_fixtures,
            "getFixture": self.get_fixture,
        }

    def list_leagues(self, call: Call) -> Any:
        leagues = [
            self._league_json(league)
            for league in LEAGUES
            if not call.get("region") or league[2] == call["region"]
        ]
        return {"results": leagues, "total": len(leagues)}

    def get_standings(self, call: Call) -> Any:
        league = self._league(call["league_id"])
        played = [f for f in self.fixtures.values() if f.league_id == league[0] and f.finished]
        return {
            "league_id": league[0],
            "league_name": league[1],
            "season": SEASON,
            "played_rounds": max((f.round for f in played), default=0),
            "table": self._table(league[0]),
        }

    def search_teams(self, call: Call) -> Any:
        teams = list(self.teams.values())
        if call.get("q"):
            needle = fold(call["q"])
            teams = [t for t in teams if needle in fold(t.name) or needle == fold(t.short_name)]
        if call.get("league_id") is not None:
            teams = [t for t in teams if t.league_id == self._league(call["league_id"])[0]]
        if call.get("city_id") is not None:
            teams = [t for t in teams if t.city_id == call["city_id"]]
        return {"results": [self._team_summary(t) for t in teams], "total": len(teams)}

    def get_team(self, call: Call) -> Any:
        team = self._team_by_id(call["team_id"])
        row = next(r for r in self._table(team.league_id) if r["team_id"] == team.id)
        upcoming = sorted(
            (f for f in self.fixtures.values() if not f.finished and team in (f.home, f.away)),
            key=lambda f: f.day,
        )
        return {
            **self._team_summary(team),
            "founded": team.founded,
            "stadium": {"name": team.stadium, "capacity": team.capacity},
            "coach": team.coach,
            "colours": list(team.colours),
            "league_position": row["position"],
            "points": row["points"],
            "form": row["form"],
            "next_fixture_id": upcoming[0].id if upcoming else 0,
        }

    def list_players(self, call: Call) -> Any:
        team = self._team_by_id(call["team_id"])
        players = [
            p for p in self.players[team.id] if not call.get("position") or p.position == call["position"]
        ]
        return {
            "team_id": team.id,
            "results": [
                {
                    "id": p.id,
                    "name": p.name,
                    "position": p.position,
                    "shirt_number": p.shirt_number,
                    "age": p.age,
                    "nationality": p.nationality,
                }
                for p in players
            ],
            "total": len(players),
        }

    def list_fixtures(self, call: Call) -> Any:
        fixtures = sorted(self.fixtures.values(), key=lambda f: (f.day, f.id))
        if call.get("league_id") is not None:
            fixtures = [f for f in fixtures if f.league_id == self._league(call["league_id"])[0]]
        if call.get("team_id") is not None:
            team = self._team_by_id(call["team_id"])
            fixtures = [f for f in fixtures if team in (f.home, f.away)]
        if call["status"] != "all":
            fixtures = [f for f in fixtures if f.finished == (call["status"] == "finished")]
        if call.get("date_from"):
            fixtures = [f for f in fixtures if f.day >= date.fromisoformat(call["date_from"])]
        if call.get("date_to"):
            fixtures = [f for f in fixtures if f.day <= date.fromisoformat(call["date_to"])]
        return page_of([self._fixture_summary(f) for f in fixtures], call)

    def get_fixture(self, call: Call) -> Any:
        fixture = self.fixtures.get(call["fixture_id"])
        if fixture is None:
            raise not_found("fixture", call["fixture_id"], param="fixture_id")
        rng = seeded(self.seed, "fixture-extra", fixture.id)
        body = {
            **self._fixture_summary(fixture),
            "venue": {
                "stadium": fixture.home.stadium,
                "city_id": fixture.home.city_id,
                "city": CITIES[fixture.home.city_id].name,
            },
            "referee": person_name(rng),
        }
        if fixture.finished:
            names = {p.id: p.name for team in (fixture.home, fixture.away) for p in self.players[team.id]}
            body["attendance"] = int(fixture.home.capacity * rng.uniform(0.62, 0.99))
            body["goals"] = [
                {"minute": m, "team_id": t, "player_id": p, "player": names[p]} for m, t, p in fixture.goals
            ]
        return body

    # --- generation ---------------------------------------------------------------------

    def _team(self, league_id: int, number: int, city_id: int) -> Team:
        rng = seeded(self.seed, "team", league_id, number)
        city = CITIES[city_id]
        rivals = [t for t in self.teams.values() if t.league_id == league_id]
        suffix = rng.choice([x for x in SUFFIXES if f"{city.name} {x}" not in {t.name for t in rivals}])
        name = f"{city.name} {suffix}"
        words = fold(city.name).upper().split()
        short = words[0][:3] if len(words) == 1 else "".join(w[0] for w in words) + suffix[0]
        if short in {t.short_name for t in rivals}:
            short = short[:2] + suffix[0]
        return Team(
            id=league_id * 100 + number,
            name=name,
            short_name=short,
            league_id=league_id,
            city_id=city_id,
            founded=rng.randint(1878, 1998),
            stadium=rng.choice(
                (
                    f"{rng.choice(LAST_NAMES)} Park",
                    f"{city.name} Arena",
                    f"Estadio {rng.choice(LAST_NAMES)}",
                    f"{rng.choice(LAST_NAMES)} Stadium",
                )
            ),
            capacity=rng.randrange(18000, 82000, 500),
            coach=person_name(rng),
            colours=cast(tuple[str, str], tuple(rng.sample(COLOURS, 2))),
            attack=rng.uniform(0.75, 1.35),
            defence=rng.uniform(0.75, 1.35),
        )

    def _squad(self, team: Team) -> list[Player]:
        rng = seeded(self.seed, "squad", team.id)
        home = CITIES[team.city_id].country_code
        others = sorted({c.country_code for c in CITIES.values()})
        numbers = rng.sample(range(1, 40), len(POSITIONS))
        return [
            Player(
                id=team.id * 1000 + index,
                name=person_name(rng),
                position=position,
                shirt_number=1 if index == 1 else numbers[index - 1],
                age=rng.randint(18, 35),
                nationality=home if rng.random() < 0.6 else rng.choice(others),
            )
            for index, position in enumerate(POSITIONS, start=1)
        ]

    def _season(self, league_id: int, teams: list[Team], kickoff: str) -> list[Fixture]:
        rounds = _double_round_robin(teams)
        played = round(PLAYED_SHARE * len(rounds))
        last_saturday = TODAY - timedelta(days=(TODAY.weekday() - 5) % 7)
        start = last_saturday - timedelta(weeks=played - 1)
        fixtures = []
        for number, pairs in enumerate(rounds, start=1):
            day = start + timedelta(weeks=number - 1)
            for index, (home, away) in enumerate(pairs, start=1):
                match_day = day + timedelta(days=index % 2)  # split each round over Saturday and Sunday
                fixture_id = league_id * 10000 + number * 100 + index
                home_goals = away_goals = None
                goals: tuple[tuple[int, int, int], ...] = ()
                if match_day < TODAY:
                    rng = seeded(self.seed, "result", fixture_id)
                    home_goals = _poisson(rng, 1.45 * home.attack / away.defence)
                    away_goals = _poisson(rng, 1.1 * away.attack / home.defence)
                    goals = tuple(
                        sorted(self._scorers(rng, home, home_goals) + self._scorers(rng, away, away_goals))
                    )
                fixtures.append(
                    Fixture(
                        fixture_id,
                        league_id,
                        number,
                        home,
                        away,
                        f"{match_day.isoformat()}T{kickoff}:00Z",
                        match_day,
                        home_goals,
                        away_goals,
                        goals,
                    )
                )
        return fixtures

    def _scorers(self, rng: random.Random, team: Team, count: int) -> list[tuple[int, int, int]]:
        outfield = [p for p in self.players[team.id] if p.position in ("FW", "FW", "MF")]
        weights = [3 if p.position == "FW" else 1 for p in outfield]
        return [(rng.randint(1, 90), team.id, rng.choices(outfield, weights)[0].id) for _ in range(count)]

    # --- views --------------------------------------------------------------------------

    def _table(self, league_id: int) -> list[dict[str, Any]]:
        standings = {
            t.id: _Standing(team_id=t.id, team=t.name)
            for t in self.teams.values()
            if t.league_id == league_id
        }
        for fixture in sorted(self.fixtures.values(), key=lambda f: f.day):
            home_goals, away_goals = fixture.home_goals, fixture.away_goals
            if fixture.league_id != league_id or home_goals is None or away_goals is None:
                continue
            standings[fixture.home.id].record(home_goals, away_goals)
            standings[fixture.away.id].record(away_goals, home_goals)
        table = [standing.row() for standing in standings.values()]
        table.sort(key=lambda r: (-r["points"], -r["goal_difference"], -r["goals_for"], r["team"]))
        return [{"position": i, **row} for i, row in enumerate(table, start=1)]

    def _league_json(self, league: tuple[Any, ...]) -> dict[str, Any]:
        fixtures = [f for f in self.fixtures.values() if f.league_id == league[0]]
        return {
            "id": league[0],
            "name": league[1],
            "region": league[2],
            "season": SEASON,
            "teams": len(league[4]),
            "rounds": max(f.round for f in fixtures),
            "played_rounds": max((f.round for f in fixtures if f.finished), default=0),
        }

    def _team_summary(self, team: Team) -> dict[str, Any]:
        city = CITIES[team.city_id]
        return {
            "id": team.id,
            "name": team.name,
            "short_name": team.short_name,
            "league_id": team.league_id,
            "city_id": city.id,
            "city": city.name,
        }

    def _fixture_summary(self, fixture: Fixture) -> dict[str, Any]:
        body = {
            "id": fixture.id,
            "league_id": fixture.league_id,
            "round": fixture.round,
            "kickoff": fixture.kickoff,
            "status": "finished" if fixture.finished else "scheduled",
            "home_team": {"id": fixture.home.id, "name": fixture.home.name},
            "away_team": {"id": fixture.away.id, "name": fixture.away.name},
        }
        if fixture.finished:
            body["score"] = {"home": fixture.home_goals, "away": fixture.away_goals}
        return body

    def _league(self, league_id: int) -> tuple[Any, ...]:
        for league in LEAGUES:
            if league[0] == league_id:
                return league
        raise not_found("league", league_id, param="league_id")

    def _team_by_id(self, team_id: int) -> Team:
        team = self.teams.get(team_id)
        if team is None:
            raise not_found("team", team_id, param="team_id")
        return team


@dataclass
class _Standing:
    """One team's line of a league table while its results are added up."""

    team_id: int
    team: str
    played: int = 0
    won: int = 0
    drawn: int = 0
    lost: int = 0
    goals_for: int = 0
    goals_against: int = 0
    results: list[str] = field(default_factory=list)  # "W" / "D" / "L", oldest first

    def record(self, scored: int, conceded: int) -> None:
        self.played += 1
        if scored > conceded:
            self.won += 1
            self.results.append("W")
        elif scored == conceded:
            self.drawn += 1
            self.results.append("D")
        else:
            self.lost += 1
            self.results.append("L")
        self.goals_for += scored
        self.goals_against += conceded

    def row(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "team": self.team,
            "played": self.played,
            "won": self.won,
            "drawn": self.drawn,
            "lost": self.lost,
            "goals_for": self.goals_for,
            "goals_against": self.goals_against,
            "goal_difference": self.goals_for - self.goals_against,
            "points": 3 * self.won + self.drawn,
            "form": "".join(self.results[-5:]),
        }


def _double_round_robin(teams: list[Team]) -> list[list[tuple[Team, Team]]]:
    """The circle method: every team meets every other once at home and once away."""
    ring = list(teams)
    half: list[list[tuple[Team, Team]]] = []
    for _ in range(len(ring) - 1):
        pairs = [(ring[i], ring[-1 - i]) for i in range(len(ring) // 2)]
        half.append([(a, b) if len(half) % 2 == 0 else (b, a) for a, b in pairs])
        ring = [ring[0], ring[-1], *ring[1:-1]]
    return half + [[(b, a) for a, b in pairs] for pairs in half]


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count
