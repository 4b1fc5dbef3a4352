"""The film catalogue shared by ReelBase Movies and CineTix Showtimes.

Movie ids 1001-1040 and person ids 20001-20120 exist for every seed; titles, casts and plots
vary with it. Movies 1001-1010 are the current releases that cinemas show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..core import seeded
from ..names import person_name
from ..world import CITIES, TODAY

FIRST_MOVIE_ID, MOVIE_COUNT, NOW_PLAYING_COUNT = 1001, 40, 10
FIRST_PERSON_ID, DIRECTOR_COUNT, PERSON_COUNT = 20001, 20, 120
GENRES = (
    "action",
    "adventure",
    "animation",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "fantasy",
    "horror",
    "romance",
    "science_fiction",
    "thriller",
)
ADJECTIVES = (
    "Silent",
    "Last",
    "Broken",
    "Golden",
    "Hidden",
    "Midnight",
    "Crimson",
    "Electric",
    "Forgotten",
    "Endless",
    "Wild",
    "Distant",
    "Burning",
    "Frozen",
    "Secret",
)
NOUNS = (
    "Harbor",
    "Horizon",
    "Echo",
    "Kingdom",
    "Signal",
    "Garden",
    "Frontier",
    "Orbit",
    "Promise",
    "Shadow",
    "River",
    "Empire",
    "Letter",
    "Summer",
    "Storm",
    "Station",
)
PLACES = ("Lisbon", "the North", "Tokyo", "the Valley", "Brooklyn", "the Desert", "the Old Town", "Marseille")
SPACE_PLACES = ("Mars", "Europa", "the Kepler belt")
TITLE_PATTERNS = (
    "The {adj} {noun}",
    "{noun} of {place}",
    "{adj} {noun}",
    "Return to {place}",
    "Beyond the {noun}",
    "The {noun}",
)
# Genres that read as a second label next to any first one (no "documentary, horror").
SECONDARY_GENRES = ("action", "adventure", "comedy", "crime", "drama", "romance", "thriller")
THINGS = (
    "a lost map",
    "an ancient signal",
    "the last seed vault",
    "a stolen melody",
    "a forgotten formula",
    "a sunken ship",
)
PLOTS = {
    "action": "When {lead} uncovers a plot against {place}, a race against the clock begins.",
    "adventure": "{lead} sets out across {place} in search of {thing}.",
    "animation": "An unlikely band of animals led by {lead} travels through {place} to recover {thing}.",
    "comedy": "{lead} has one weekend in {place} to save a family wedding that is going spectacularly wrong.",
    "crime": "A detective in {place} follows a trail of forged paintings that leads straight to {lead}.",
    "documentary": "An intimate portrait of the people of {place} and their fight to protect {thing}.",
    "drama": "After twenty years away, {lead} returns to {place} to face the family secrets left behind.",
    "fantasy": "{lead} discovers {thing} that opens a door to a hidden world beneath {place}.",
    "horror": "Strange signals from an abandoned station near {place} draw {lead} into a nightmare.",
    "romance": "Two strangers meet on a night train to {place}; {lead} has one day to change both their plans.",
    "science_fiction": "In 2187, {lead} leads the first crew to {place} and finds {thing} waiting.",
    "thriller": "A missing letter, a locked room in {place}, and only {lead} knows the truth.",
}
LANGUAGES = ("en", "en", "en", "en", "fr", "es", "ja", "ko", "de", "it")


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    birth_year: int
    birth_city_id: int
    department: str  # "Directing" or "Acting"


@dataclass(frozen=True)
class CastMember:
    person_id: int
    character: str


@dataclass(frozen=True)
class Movie:
    id: int
    title: str
    genres: tuple[str, ...]
    overview: str
    release_date: date
    runtime_minutes: int
    certification: str
    original_language: str
    rating: float
    vote_count: int
    popularity: float
    director_id: int
    cast: tuple[CastMember, ...]

    @property
    def now_playing(self) -> bool:
        return FIRST_MOVIE_ID <= self.id < FIRST_MOVIE_ID + NOW_PLAYING_COUNT


@dataclass(frozen=True)
class Catalog:
    movies: dict[int, Movie]
    people: dict[int, Person]


def build_catalog(seed: int) -> Catalog:
    people = {}
    for offset in range(PERSON_COUNT):
        rng = seeded(seed, "person", offset)
        person_id = FIRST_PERSON_ID + offset
        people[person_id] = Person(
            id=person_id,
            name=person_name(rng),
            birth_year=rng.randint(1950, 2001),
            birth_city_id=rng.choice(list(CITIES)),
            department="Directing" if offset < DIRECTOR_COUNT else "Acting",
        )
    actors = [p for p in people.values() if p.department == "Acting"]
    # Every director gets two films: deal the directors out over a seeded shuffle.
    directors = seeded(seed, "directors").sample(range(DIRECTOR_COUNT), DIRECTOR_COUNT)
    movies, titles = {}, set()
    for offset in range(MOVIE_COUNT):
        rng = seeded(seed, "movie", offset)
        movie_id = FIRST_MOVIE_ID + offset
        title = ""
        while not title or title in titles:
            title = rng.choice(TITLE_PATTERNS).format(
                adj=rng.choice(ADJECTIVES), noun=rng.choice(NOUNS), place=rng.choice(PLACES + SPACE_PLACES)
            )
        titles.add(title)
        primary = rng.choice(GENRES)
        second = rng.choice([g for g in SECONDARY_GENRES if g != primary])
        genres = (primary,) if primary == "documentary" or rng.random() < 0.35 else (primary, second)
        cast = rng.sample(actors, 5)
        characters = [person_name(rng) for _ in cast]
        lead = characters[0].split()[0]
        if offset < NOW_PLAYING_COUNT:  # current releases, one every week or so
            released = TODAY - timedelta(days=3 + offset * 6)
        else:
            released = date(rng.randint(1996, 2024), rng.randint(1, 12), rng.randint(1, 28))
        movies[movie_id] = Movie(
            id=movie_id,
            title=title,
            genres=genres,
            overview=PLOTS[primary].format(
                lead=lead,
                place=rng.choice(SPACE_PLACES if primary == "science_fiction" else PLACES),
                thing=rng.choice(THINGS),
            ),
            release_date=released,
            runtime_minutes=rng.randint(84, 165) if genres[0] != "animation" else rng.randint(80, 105),
            certification="R"
            if genres[0] == "horror"
            else ("PG" if genres[0] == "animation" else rng.choice(("PG", "PG-13", "PG-13", "R"))),
            original_language=rng.choice(LANGUAGES),
            rating=round(rng.uniform(5.4, 8.8), 1),
            vote_count=rng.randint(150, 32000),
            popularity=round(rng.uniform(40, 400) * (3 if offset < NOW_PLAYING_COUNT else 1), 1),
            director_id=FIRST_PERSON_ID + directors[offset % DIRECTOR_COUNT],
            cast=tuple(CastMember(p.id, c) for p, c in zip(cast, characters)),
        )
    return Catalog(movies=movies, people=people)
