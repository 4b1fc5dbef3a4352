"""ShopLite Store: product catalogue, reviews, shopping carts, checkout and orders.

Product ids (10001 ...) are stable across seeds; brands, prices, ratings and stock vary.
Grocery items carry the ingredient names Pantry Recipes uses, so a recipe's ingredient list
can be turned into a shopping cart. Prices are in US dollars.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, ClassVar

from ..core import Call, Counter, Handler, Reply, fold, seeded
from ..errors import conflict, not_found
from ..names import email_for, person_name
from ..pagination import page_of
from ..world import NOW_ISO, TODAY
from .reviews import generate_reviews, sort_reviews

# category -> (brands, items as "name|price in USD"); the first ALWAYS_STOCKED items never run out.
CATALOGUE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "electronics": (
        ("Voltix", "Nuvo", "Auralis", "Pixelcraft", "Zentek"),
        (
            "Wireless Earbuds|79",
            "Noise-Cancelling Headphones|199",
            "Bluetooth Speaker|59",
            "27-inch 4K Monitor|329",
            "Mechanical Keyboard|109",
            "Wireless Mouse|35",
            "USB-C Charger 65W|39",
            "Smartwatch|229",
            "E-Reader|139",
            "Power Bank 20000mAh|45",
        ),
    ),
    "home_kitchen": (
        ("Hearthware", "Casalina", "Brewmaster", "Copperleaf"),
        (
            "Espresso Machine|249",
            "Chef's Knife 20 cm|69",
            "Non-Stick Frying Pan 28 cm|45",
            "Electric Kettle|39",
            "Blender|89",
            "Cast Iron Dutch Oven|99",
            "Rice Cooker|79",
            "Air Fryer|119",
        ),
    ),
    "grocery": (
        ("Green Valley", "Harvest Table", "Pantry Co.", "Sunfield"),
        (
            "Chickpeas 400 g|1.8",
            "Basmati Rice 1 kg|4.5",
            "Spaghetti 500 g|2.2",
            "Extra Virgin Olive Oil 500 ml|8.9",
            "Coconut Milk 400 ml|2.4",
            "Soy Sauce 250 ml|3.2",
            "Firm Tofu 400 g|3.5",
            "Arborio Rice 1 kg|5.2",
            "Quinoa 500 g|4.9",
            "Corn Tortillas 12 pack|3.4",
            "Curry Paste 200 g|3.8",
            "Teriyaki Sauce 250 ml|3.9",
            "Parmesan 200 g|6.5",
            "Feta 200 g|3.9",
            "Vegetable Stock Cubes|2.1",
        ),
    ),
    "outdoor": (
        ("Trailmark", "Northridge", "Summitline"),
        (
            "2-Person Tent|179",
            "Sleeping Bag|89",
            "Hiking Backpack 40 L|119",
            "Trekking Poles|49",
            "Insulated Water Bottle 1 L|29",
            "Headlamp|25",
            "Camping Stove|59",
        ),
    ),
    "books": (
        ("Lantern Press", "Bluebird Books", "Meridian House"),
        (
            "The Pocket Guide to Lisbon|14",
            "Weeknight Curries|22",
            "Learn Spanish in 30 Days|18",
            "The Home Barista|24",
            "Astronomy for Beginners|20",
            "A History of the Silk Road|28",
        ),
    ),
    "toys": (
        ("Brightblocks", "Tinker & Co", "Playnest"),
        (
            "Building Blocks Set 500 pieces|39",
            "Wooden Train Set|55",
            "Remote Control Car|45",
            "1000-Piece Jigsaw Puzzle|19",
            "Board Game Island Traders|35",
        ),
    ),
}
ALWAYS_STOCKED = 3
FIRST_PRODUCT_ID = 10001
BLURBS = {
    "electronics": "Reliable everyday tech from {brand}, with a two-year warranty.",
    "home_kitchen": "Built to last by {brand}; dishwasher-safe parts where applicable.",
    "grocery": "Pantry staple from {brand}, sourced from trusted growers.",
    "outdoor": "Tested on the trail by the {brand} team; light and weatherproof.",
    "books": "Published by {brand}. Paperback edition.",
    "toys": "Designed by {brand} for ages 6 and up.",
}
PRAISE = (
    "Exactly as described - very happy with the {subject}.",
    "Great value; the {subject} arrived two days early.",
    "Would buy the {subject} again.",
)
CRITICISM = (
    "Decent {subject}, but it feels cheaper than the photos suggest.",
    "The box was damaged when the {subject} arrived.",
    "Returned the {subject}; not what I expected.",
)
SHIPPING = {"standard": (4.99, 5), "express": (14.99, 2)}  # price, days to deliver
FREE_SHIPPING_FROM = 50.0
TAX_RATE = 0.08


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    item: str
    brand: str
    category: str
    price: float
    rating: float
    review_count: int
    stock: int


def generate_products(seed: int) -> dict[int, Product]:
    products, product_id = {}, FIRST_PRODUCT_ID
    for category, (brands, items) in CATALOGUE.items():
        for index, entry in enumerate(items):
            item, usd = entry.split("|")
            rng = seeded(seed, "product", product_id)
            brand = rng.choice(brands)
            stock = rng.randint(5, 140) if index < ALWAYS_STOCKED or rng.random() > 0.12 else 0
            products[product_id] = Product(
                id=product_id,
                name=item if category == "books" else f"{brand} {item}",
                item=item,
                brand=brand,
                category=category,
                price=_shelf_price(float(usd) * rng.uniform(0.85, 1.2)),
                rating=round(rng.uniform(3.2, 4.9), 1),
                review_count=rng.randint(4, 2400),
                stock=stock,
            )
            product_id += 1
    return products


def _shelf_price(usd: float) -> float:
    """Prices as shops write them: 83.99 rather than 84.37 above ten dollars."""
    return float(round(usd)) - 0.01 if usd > 10 else round(usd, 2)


class ShopTool:
    # what the handlers change (checkout takes stock): each client session works on its own copy
    STATE: ClassVar[tuple[str, ...]] = ("products", "carts", "orders", "_cart_ids", "_order_ids")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.products = generate_products(seed)
        self.carts: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self._cart_ids = Counter("cart-", 5001, width=4)
        self._order_ids = Counter("ORD-", 700001)
        self._seed_state()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchProducts": self.search,
            "getProduct": self.get_product,
            "listProductReviews": self.list_reviews,
            "listCategories": self.list_categories,
            "createCart": self.create_cart,
            "getCart": self.get_cart,
            "addCartItem": self.add_item,
            "removeCartItem": self.remove_item,
            "checkoutCart": self.checkout,
            "getOrder": self.get_order,
        }

    def search(self, call: Call) -> Any:
        found = list(self.products.values())
        words = fold(call.get("q") or "").split()
        if words:
            found = [p for p in found if all(w in fold(f"{p.name} {p.brand} {p.category}") for w in words)]
        if call.get("category"):
            found = [p for p in found if p.category == call["category"]]
        if call.get("min_price") is not None:
            found = [p for p in found if p.price >= call["min_price"]]
        if call.get("max_price") is not None:
            found = [p for p in found if p.price <= call["max_price"]]
        if call.get("in_stock_only"):
            found = [p for p in found if p.stock > 0]
        order = {
            "relevance": lambda p: (-p.review_count,),
            "price_asc": lambda p: (p.price,),
            "price_desc": lambda p: (-p.price,),
            "rating": lambda p: (-p.rating, -p.review_count),
        }[call["sort"]]
        return page_of([self._summary(p) for p in sorted(found, key=order)], call)

    def get_product(self, call: Call) -> Any:
        product = self._product(call["product_id"])
        return {
            **self._summary(product),
            "brand": product.brand,
            "description": f"{product.item}. " + BLURBS[product.category].format(brand=product.brand),
            "stock_quantity": product.stock,
            "ships_in_days": 1 if product.stock > 20 else 3,
        }

    def list_reviews(self, call: Call) -> Any:
        product = self._product(call["product_id"])
        reviews = generate_reviews(
            seeded(self.seed, "product-reviews", product.id),
            id_prefix=f"prd{product.id}",
            count=min(product.review_count, 20),
            mean_rating=product.rating,
            praise=PRAISE,
            criticism=CRITICISM,
            subjects=[
                "book" if product.category == "books" else re.sub(r"\s+\d.*$", "", product.item).lower()
            ],
        )
        return {"product_id": product.id, **page_of(sort_reviews(reviews, call["sort"]), call)}

    def list_categories(self, call: Call) -> Any:
        counts: dict[str, int] = {}
        for product in self.products.values():
            counts[product.category] = counts.get(product.category, 0) + 1
        return {
            "results": [
                {"id": name, "name": name.replace("_", " & ").title(), "product_count": n}
                for name, n in counts.items()
            ]
        }

    def create_cart(self, call: Call) -> Any:
        email = (call.body or {}).get("customer_email")
        cart = self._new_cart(email)
        return Reply(self._cart_json(cart), status=201)

    def get_cart(self, call: Call) -> Any:
        return self._cart_json(self._cart(call["cart_id"]))

    def add_item(self, call: Call) -> Any:
        cart = self._open_cart(call["cart_id"])
        product = self._product(call.body["product_id"], param="product_id")
        quantity = cart["lines"].get(product.id, 0) + call.body["quantity"]
        if quantity > product.stock:
            left = "is out of stock" if product.stock == 0 else f"has only {product.stock} in stock"
            raise conflict(f"{product.name} {left}.", param="quantity")
        cart["lines"][product.id] = quantity
        return self._cart_json(cart)

    def remove_item(self, call: Call) -> Any:
        cart = self._open_cart(call["cart_id"])
        if call["product_id"] not in cart["lines"]:
            raise not_found(
                f"item in cart {cart['cart_id']}", call["product_id"], param="product_id", key="product id"
            )
        del cart["lines"][call["product_id"]]
        return self._cart_json(cart)

    def checkout(self, call: Call) -> Any:
        cart = self._open_cart(call["cart_id"])
        if not cart["lines"]:
            raise conflict(
                f"Cart {cart['cart_id']} is empty; add items with addCartItem first.", param="cart_id"
            )
        for product_id, quantity in cart["lines"].items():
            product = self.products[product_id]
            if quantity > product.stock:
                raise conflict(f"{product.name} has only {product.stock} in stock.", param="cart_id")
        order = self._place_order(cart, call.body)
        return Reply(order, status=201)

    def get_order(self, call: Call) -> Any:
        order = self.orders.get(call["order_id"])
        if order is None:
            raise not_found("order", call["order_id"], param="order_id")
        return order

    def _seed_state(self) -> None:
        """Carts cart-5001 and cart-5002 and order ORD-700001 exist before any call."""
        rng = seeded(self.seed, "shop-state")
        name = person_name(rng)
        first = self._new_cart(email_for(name))
        first["lines"].update({FIRST_PRODUCT_ID: 1, FIRST_PRODUCT_ID + 1: 2})
        grocery = [p.id for p in self.products.values() if p.category == "grocery"][:ALWAYS_STOCKED]
        second = self._new_cart(email_for(name))
        second["lines"].update({product_id: rng.randint(1, 3) for product_id in grocery})
        history = self._new_cart(email_for(name))
        history["lines"][rng.choice([p.id for p in self.products.values() if p.category == "books"])] = 1
        address = {
            "name": name,
            "line1": "42 Market Street",
            "city": "San Francisco",
            "postal_code": "94103",
            "country_code": "US",
        }
        order = self._place_order(
            history, {"shipping_address": address, "shipping_method": "standard", "payment_method": "card"}
        )
        order["status"] = "delivered"

    def _new_cart(self, email: str | None) -> dict[str, Any]:
        cart: dict[str, Any] = {
            "cart_id": self._cart_ids.next_id(),
            "status": "open",
            "customer_email": email,
            "lines": {},
        }
        self.carts[cart["cart_id"]] = cart
        return cart

    def _place_order(self, cart: dict[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
        summary = self._cart_json(cart)
        fee, days = SHIPPING[details["shipping_method"]]
        shipping = (
            0.0
            if details["shipping_method"] == "standard" and summary["subtotal"] >= FREE_SHIPPING_FROM
            else fee
        )
        tax = round(summary["subtotal"] * TAX_RATE, 2)
        order = {
            "order_id": self._order_ids.next_id(),
            "status": "confirmed",
            "cart_id": cart["cart_id"],
            "items": summary["items"],
            "subtotal": summary["subtotal"],
            "shipping": shipping,
            "tax": tax,
            "total": round(summary["subtotal"] + shipping + tax, 2),
            "currency": "USD",
            "shipping_address": dict(details["shipping_address"]),
            "shipping_method": details["shipping_method"],
            "payment_method": details["payment_method"],
            "estimated_delivery": (TODAY + timedelta(days=days)).isoformat(),
            "created_at": NOW_ISO,
        }
        for product_id, quantity in cart["lines"].items():
            product = self.products[product_id]
            self.products[product_id] = replace(product, stock=product.stock - quantity)
        cart["status"] = "checked_out"
        self.orders[order["order_id"]] = order
        return order

    def _cart_json(self, cart: dict[str, Any]) -> dict[str, Any]:
        items = [
            {
                "product_id": product_id,
                "name": self.products[product_id].name,
                "unit_price": self.products[product_id].price,
                "quantity": quantity,
                "line_total": round(self.products[product_id].price * quantity, 2),
            }
            for product_id, quantity in cart["lines"].items()
        ]
        body = {
            "cart_id": cart["cart_id"],
            "status": cart["status"],
            "items": items,
            "item_count": sum(item["quantity"] for item in items),
            "subtotal": round(sum(item["line_total"] for item in items), 2),
            "currency": "USD",
        }
        if cart["customer_email"]:
            body["customer_email"] = cart["customer_email"]
        return body

    def _summary(self, product: Product) -> dict[str, Any]:
        return {
            "id": product.id,
            "name": product.name,
            "category": product.category,
            "price": product.price,
            "currency": "USD",
            "rating": product.rating,
            "review_count": product.review_count,
            "in_stock": product.stock > 0,
        }

    def _product(self, product_id: int, param: str = "product_id") -> Product:
        product = self.products.get(product_id)
        if product is None:
            raise not_found("product", product_id, param=param)
        return product

    def _cart(self, cart_id: str) -> dict[str, Any]:
        cart = self.carts.get(cart_id)
        if cart is None:
            raise not_found("cart", cart_id, param="cart_id")
        return cart

    def _open_cart(self, cart_id: str) -> dict[str, Any]:
        cart = self._cart(cart_id)
        if cart["status"] != "open":
            raise conflict(
                f"Cart {cart_id} has already been checked out; create a new cart.", param="cart_id"
            )
        return cart
