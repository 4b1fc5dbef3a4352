"""Pantry Recipes: recipe search, recipes with ingredients and steps, nutrition, similar recipes.

Recipes combine a cooking style (stir-fry, curry, tacos ...) with a main ingredient and a
vegetable. Diet labels and nutrition are computed from the ingredient list (per-100 g values
below), so they are always consistent with it. Ingredient names match ShopLite grocery items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core import Call, Handler, fold, seeded
from ..errors import not_found
from ..pagination import page_of

# name | kcal | protein g | carbs g | fat g (per 100 g) | kind
NUTRIENTS = {
    r[0].strip(): (float(r[1]), float(r[2]), float(r[3]), float(r[4]), r[5].strip())
    for r in (
        line.split("|")
        for line in """
    chicken breast|165|31|0|3.6|meat
    beef sirloin|206|26|0|11|meat
    salmon fillet|208|20|0|13|fish
    shrimp|99|24|0.2|0.3|fish
    firm tofu|144|17|3|9|plant
    chickpeas|164|9|27|2.6|plant
    halloumi|321|21|2|25|dairy
    broccoli|34|2.8|7|0.4|plant
    spinach|23|2.9|3.6|0.4|plant
    bell pepper|31|1|6|0.3|plant
    zucchini|17|1.2|3.1|0.3|plant
    mushrooms|22|3.1|3.3|0.3|plant
    eggplant|25|1|6|0.2|plant
    sweet potato|86|1.6|20|0.1|plant
    tomato|18|0.9|3.9|0.2|plant
    onion|40|1.1|9|0.1|plant
    garlic|149|6.4|33|0.5|plant
    ginger|80|1.8|18|0.8|plant
    soy sauce|53|8|4.9|0.6|gluten
    teriyaki sauce|89|6|16|0|gluten
    spaghetti|371|13|75|1.5|gluten
    olive oil|884|0|0|100|plant
    basmati rice|360|7|79|0.6|plant
    arborio rice|350|7|78|0.6|plant
    quinoa|368|14|64|6|plant
    corn tortillas|218|5.7|45|2.9|plant
    coconut milk|230|2.3|6|24|plant
    curry paste|110|2|12|6|plant
    lime|30|0.7|11|0.2|plant
    lemon|29|1.1|9|0.3|plant
    avocado|160|2|9|15|plant
    cucumber|15|0.7|3.6|0.1|plant
    vegetable stock|5|0.3|0.5|0.2|plant
    parmesan|431|38|4|29|dairy
    feta|264|14|4|21|dairy
    butter|717|0.9|0.1|81|dairy
    """.strip().splitlines()
    )
}
MAINS = {  # ingredient -> how it appears in a title
    "chicken breast": "Chicken",
    "beef sirloin": "Beef",
    "salmon fillet": "Salmon",
    "shrimp": "Shrimp",
    "firm tofu": "Tofu",
    "chickpeas": "Chickpea",
    "halloumi": "Halloumi",
}
VEGETABLES = ("broccoli", "spinach", "bell pepper", "zucchini", "mushrooms", "eggplant")


@dataclass(frozen=True)
class Style:
    key: str
    cuisine: str
    title: str
    main_grams: int
    veg_grams: int
    base: tuple[tuple[str, int], ...]  # other ingredients and grams for 4 servings
    steps: tuple[str, ...]
    prep: int
    cook: int


STYLES = (
    Style(
        "stir_fry",
        "chinese",
        "{Main} and {Veg} Stir-Fry",
        500,
        300,
        (("basmati rice", 300), ("soy sauce", 45), ("garlic", 10), ("ginger", 10), ("olive oil", 20)),
        (
            "Cook the rice according to the packet instructions.",
            "Cut the {main} and the {veg} into bite-sized pieces.",
            "Stir-fry the {main} in hot oil for 5 minutes, then add the garlic and ginger.",
            "Add the {veg} and soy sauce and cook for 3 more minutes.",
            "Serve over the rice.",
        ),
        10,
        15,
    ),
    Style(
        "curry",
        "indian",
        "{Veg} and {Main} Curry",
        500,
        300,
        (
            ("onion", 150),
            ("garlic", 10),
            ("ginger", 10),
            ("curry paste", 60),
            ("coconut milk", 400),
            ("basmati rice", 300),
        ),
        (
            "Soften the chopped onion, garlic and ginger in a large pan.",
            "Stir in the curry paste and cook for 1 minute.",
            "Add the {main} and brown it lightly.",
            "Pour in the coconut milk, add the {veg} and simmer for 20 minutes.",
            "Serve with the rice.",
        ),
        15,
        30,
    ),
    Style(
        "pasta",
        "italian",
        "{Main} Pasta with {Veg}",
        350,
        250,
        (("spaghetti", 400), ("garlic", 10), ("olive oil", 30), ("parmesan", 40), ("lemon", 60)),
        (
            "Cook the spaghetti in salted water until al dente.",
            "Fry the {main} in olive oil until golden.",
            "Add the garlic and the {veg} and cook for 4 minutes.",
            "Toss with the drained pasta, lemon juice and grated parmesan.",
        ),
        10,
        20,
    ),
    Style(
        "tacos",
        "mexican",
        "{Main} Tacos with {Veg}",
        450,
        200,
        (("corn tortillas", 320), ("avocado", 200), ("lime", 60), ("onion", 80)),
        (
            "Season and grill the {main} for 6-8 minutes.",
            "Char the {veg} in a dry pan.",
            "Mash the avocado with lime juice and finely chopped onion.",
            "Warm the tortillas and fill them with the {main}, {veg} and avocado.",
        ),
        15,
        15,
    ),
    Style(
        "salad",
        "mediterranean",
        "Warm {Main} Salad with {Veg}",
        400,
        250,
        (
            ("quinoa", 200),
            ("cucumber", 200),
            ("tomato", 200),
            ("feta", 100),
            ("olive oil", 30),
            ("lemon", 60),
        ),
        (
            "Cook the quinoa and let it cool slightly.",
            "Roast or pan-fry the {main} and the {veg}.",
            "Dice the cucumber and tomato.",
            "Combine everything, crumble over the feta and dress with lemon and oil.",
        ),
        15,
        20,
    ),
    Style(
        "risotto",
        "italian",
        "{Veg} Risotto with {Main}",
        300,
        250,
        (("arborio rice", 320), ("onion", 100), ("vegetable stock", 1200), ("parmesan", 50), ("butter", 30)),
        (
            "Sweat the chopped onion in half of the butter.",
            "Toast the rice for 2 minutes.",
            "Add the hot stock a ladle at a time, stirring, for 18 minutes.",
            "Meanwhile pan-fry the {main} and the {veg}.",
            "Stir in the parmesan, the remaining butter, the {main} and the {veg}.",
        ),
        10,
        35,
    ),
    Style(
        "bowl",
        "japanese",
        "Teriyaki {Main} Bowl with {Veg}",
        500,
        250,
        (("basmati rice", 300), ("teriyaki sauce", 80), ("cucumber", 150), ("ginger", 10)),
        (
            "Cook the rice.",
            "Glaze the {main} with teriyaki sauce in a hot pan for 8 minutes.",
            "Steam the {veg} for 4 minutes.",
            "Slice the cucumber and assemble the bowls with ginger on top.",
        ),
        10,
        20,
    ),
    Style(
        "traybake",
        "american",
        "Roasted {Main} with {Veg} and Sweet Potato",
        600,
        300,
        (("sweet potato", 600), ("olive oil", 30), ("garlic", 10), ("lemon", 60)),
        (
            "Heat the oven to 200 °C.",
            "Cut the sweet potato into wedges and roast for 15 minutes.",
            "Add the {main} and the {veg}, drizzle with oil and garlic and roast for 25 minutes more.",
            "Finish with lemon juice.",
        ),
        15,
        40,
    ),
)
RECIPE_COUNT = 48
FIRST_RECIPE_ID = 501
SERVINGS = 4
DIET_ORDER = ("vegan", "vegetarian", "pescatarian", "omnivore")


@dataclass(frozen=True)
class Recipe:
    id: int
    title: str
    style: Style
    main: str
    vegetable: str
    ingredients: tuple[tuple[str, int], ...]
    rating: float

    @property
    def diet(self) -> str:
        kinds = {NUTRIENTS[name][4] for name, _ in self.ingredients}
        if "meat" in kinds:
            return "omnivore"
        if "fish" in kinds:
            return "pescatarian"
        return "vegetarian" if "dairy" in kinds else "vegan"

    @property
    def gluten_free(self) -> bool:
        return all(NUTRIENTS[name][4] != "gluten" for name, _ in self.ingredients)

    def per_serving(self) -> dict[str, float]:
        totals = [0.0, 0.0, 0.0, 0.0]
        for name, grams in self.ingredients:
            for index, per_100g in enumerate(NUTRIENTS[name][:4]):
                totals[index] += per_100g * grams / 100
        kcal, protein, carbs, fat = (value / SERVINGS for value in totals)
        return {
            "calories": round(kcal),
            "protein_g": round(protein, 1),
            "carbs_g": round(carbs, 1),
            "fat_g": round(fat, 1),
        }


def generate_recipes(seed: int) -> list[Recipe]:
    recipes, titles = [], set()
    for offset in range(RECIPE_COUNT):
        style = STYLES[offset % len(STYLES)]
        rng = seeded(seed, "recipe", offset)
        title = ""
        while not title or title in titles:
            main = rng.choice(list(MAINS))
            vegetable = rng.choice([v for v in VEGETABLES if v not in dict(style.base)])
            title = style.title.format(Main=MAINS[main], Veg=vegetable.title())
        titles.add(title)
        ingredients = ((main, style.main_grams), (vegetable, style.veg_grams), *style.base)
        recipes.append(
            Recipe(
                FIRST_RECIPE_ID + offset,
                title,
                style,
                main,
                vegetable,
                ingredients,
                round(rng.uniform(3.6, 4.9), 1),
            )
        )
    return recipes


class RecipesTool:
    def __init__(self, seed: int) -> None:
        self.recipes = {r.id: r for r in generate_recipes(seed)}

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchRecipes": self.search,
            "getRecipe": self.get_recipe,
            "getRecipeNutrition": self.get_nutrition,
            "getSimilarRecipes": self.get_similar,
        }

    def search(self, call: Call) -> Any:
        found = list(self.recipes.values())
        if call.get("q"):
            words = fold(call["q"]).split()
            found = [
                r
                for r in found
                if all(w in fold(f"{r.title} {r.style.cuisine} {r.style.key}") for w in words)
            ]
        if call.get("cuisine"):
            found = [r for r in found if r.style.cuisine == call["cuisine"]]
        if call.get("diet"):
            allowed = DIET_ORDER[: DIET_ORDER.index(call["diet"]) + 1]
            found = [r for r in found if r.diet in allowed]
        if call.get("gluten_free"):
            found = [r for r in found if r.gluten_free]
        if call.get("max_minutes"):
            found = [r for r in found if r.style.prep + r.style.cook <= call["max_minutes"]]
        if call.get("ingredient"):
            needle = fold(call["ingredient"])
            found = [r for r in found if any(needle in name for name, _ in r.ingredients)]
        return page_of([self._summary(r) for r in found], call)

    def get_recipe(self, call: Call) -> Any:
        recipe = self._recipe(call["recipe_id"])
        main, veg = MAINS[recipe.main].lower(), recipe.vegetable
        return {
            **self._summary(recipe),
            "servings": SERVINGS,
            "prep_minutes": recipe.style.prep,
            "cook_minutes": recipe.style.cook,
            "gluten_free": recipe.gluten_free,
            "ingredients": [
                {
                    "name": name,
                    "quantity": grams,
                    "unit": "ml" if name in ("vegetable stock", "coconut milk", "soy sauce") else "g",
                }
                for name, grams in recipe.ingredients
            ],
            "steps": [step.format(main=main, veg=veg) for step in recipe.style.steps],
        }

    def get_nutrition(self, call: Call) -> Any:
        recipe = self._recipe(call["recipe_id"])
        per_serving = recipe.per_serving()
        servings = call["servings"]
        return {
            "recipe_id": recipe.id,
            "servings": servings,
            "per_serving": per_serving,
            "total": {key: round(value * servings, 1) for key, value in per_serving.items()},
            "diet": recipe.diet,
            "gluten_free": recipe.gluten_free,
        }

    def get_similar(self, call: Call) -> Any:
        recipe = self._recipe(call["recipe_id"])

        def closeness(other: Recipe) -> tuple[int, float]:
            shared = (
                (other.style.key == recipe.style.key) * 2
                + (other.main == recipe.main) * 2
                + (other.vegetable == recipe.vegetable)
            )
            return (-shared, -other.rating)

        others = sorted((r for r in self.recipes.values() if r.id != recipe.id), key=closeness)
        return {"recipe_id": recipe.id, "results": [self._summary(r) for r in others[: call["limit"]]]}

    def _summary(self, recipe: Recipe) -> dict[str, Any]:
        return {
            "id": recipe.id,
            "title": recipe.title,
            "cuisine": recipe.style.cuisine,
            "diet": recipe.diet,
            "total_minutes": recipe.style.prep + recipe.style.cook,
            "rating": recipe.rating,
            "calories_per_serving": recipe.per_serving()["calories"],
        }

    def _recipe(self, recipe_id: int) -> Recipe:
        recipe = self.recipes.get(recipe_id)
        if recipe is None:
            raise not_found("recipe", recipe_id, param="recipe_id")
        return recipe
