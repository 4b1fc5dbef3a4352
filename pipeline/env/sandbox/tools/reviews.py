"""Customer reviews generated around an average rating, shared by the restaurant and shop tools."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ..names import person_name
from ..world import TODAY


def generate_reviews(
    rng: random.Random,
    *,
    id_prefix: str,
    count: int,
    mean_rating: float,
    praise: Sequence[str],
    criticism: Sequence[str],
    subjects: Sequence[str],
) -> list[dict[str, Any]]:
    """``count`` reviews whose ratings scatter around ``mean_rating``; texts name one of ``subjects``."""
    reviews = []
    for number in range(1, count + 1):
        stars = max(1, min(5, round(rng.gauss(mean_rating, 0.9))))
        template = rng.choice(praise if stars >= 4 else criticism)
        reviews.append(
            {
                "id": f"{id_prefix}-r{number:02d}",
                "author": person_name(rng),
                "rating": stars,
                "date": (TODAY - timedelta(days=rng.randint(1, 400))).isoformat(),
                "text": template.format(subject=rng.choice(subjects)),
            }
        )
    return reviews


def sort_reviews(reviews: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    """Order by ``newest``, ``highest`` or ``lowest`` rating (newest first among equals)."""
    by_date = sorted(reviews, key=lambda r: r["date"], reverse=True)
    if order == "highest":
        return sorted(by_date, key=lambda r: -r["rating"])
    if order == "lowest":
        return sorted(by_date, key=lambda r: r["rating"])
    return by_date
