"""ReelBase Movies: film search, details, credits, current releases and people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import Call, Handler, fold
from ..errors import not_found
from ..pagination import page_of
from ..world import CITIES
from .movie_catalog import Movie, build_catalog


class MoviesTool:
    def __init__(self, seed: int) -> None:
        self.catalog = build_catalog(seed)

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchMovies": self.search,
            "getMovie": self.get_movie,
            "getMovieCredits": self.get_credits,
            "listNowPlaying": self.now_playing,
            "getPerson": self.get_person,
        }

    def search(self, call: Call) -> Any:
        found = list(self.catalog.movies.values())
        if call.get("q"):
            needle = fold(call["q"])
            found = [m for m in found if needle in fold(m.title)]
        if call.get("genre"):
            found = [m for m in found if call["genre"] in m.genres]
        if call.get("year"):
            found = [m for m in found if m.release_date.year == call["year"]]
        order = {
            "popularity": lambda m: -m.popularity,
            "release_date": lambda m: -m.release_date.toordinal(),
            "rating": lambda m: -m.rating,
        }[call["sort"]]
        return page_of([self._summary(m) for m in sorted(found, key=order)], call)

    def get_movie(self, call: Call) -> Any:
        movie = self._movie(call["movie_id"])
        director = self.catalog.people[movie.director_id]
        return {
            **self._summary(movie),
            "overview": movie.overview,
            "runtime_minutes": movie.runtime_minutes,
            "certification": movie.certification,
            "original_language": movie.original_language,
            "vote_count": movie.vote_count,
            "director": {"id": director.id, "name": director.name},
            "now_playing": movie.now_playing,
        }

    def get_credits(self, call: Call) -> Any:
        movie = self._movie(call["movie_id"])
        director = self.catalog.people[movie.director_id]
        return {
            "movie_id": movie.id,
            "director": {"id": director.id, "name": director.name},
            "cast": [
                {
                    "person_id": m.person_id,
                    "name": self.catalog.people[m.person_id].name,
                    "character": m.character,
                    "order": i,
                }
                for i, m in enumerate(movie.cast)
            ],
        }

    def now_playing(self, call: Call) -> Any:
        movies = sorted(
            (m for m in self.catalog.movies.values() if m.now_playing), key=lambda m: -m.popularity
        )
        return page_of([self._summary(m) for m in movies], call)

    def get_person(self, call: Call) -> Any:
        person = self.catalog.people.get(call["person_id"])
        if person is None:
            raise not_found("person", call["person_id"], param="person_id")
        credits = []
        for movie in sorted(self.catalog.movies.values(), key=lambda m: m.release_date, reverse=True):
            if movie.director_id == person.id:
                credits.append(
                    {
                        "movie_id": movie.id,
                        "title": movie.title,
                        "year": movie.release_date.year,
                        "role": "director",
                    }
                )
            for member in movie.cast:
                if member.person_id == person.id:
                    credits.append(
                        {
                            "movie_id": movie.id,
                            "title": movie.title,
                            "year": movie.release_date.year,
                            "role": "actor",
                            "character": member.character,
                        }
                    )
        city = CITIES[person.birth_city_id]
        job = "director" if person.department == "Directing" else "actor"
        return {
            "id": person.id,
            "name": person.name,
            "known_for_department": person.department,
            "birth_year": person.birth_year,
            "birthplace": {"city_id": city.id, "city": city.name, "country_code": city.country_code},
            "biography": (
                f"{person.name} is a {job} born in {city.name} in {person.birth_year}, "
                f"with {len(credits)} films in this catalogue."
            ),
            "filmography": credits,
        }

    def _summary(self, movie: Movie) -> dict[str, Any]:
        return {
            "id": movie.id,
            "title": movie.title,
            "genres": list(movie.genres),
            "release_date": movie.release_date.isoformat(),
            "rating": movie.rating,
            "popularity": movie.popularity,
        }

    def _movie(self, movie_id: int) -> Movie:
        movie = self.catalog.movies.get(movie_id)
        if movie is None:
            raise not_found("movie", movie_id, param="movie_id")
        return movie
