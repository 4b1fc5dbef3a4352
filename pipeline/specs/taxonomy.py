"""The tool taxonomy: the fixed set of categories a catalog's tools are sorted into.

Real specs name their category in many ways, or not at all: APIs.guru's
``x-apisguru-categories`` (``financial``, ``developer_tools``), ToolBench's category folders,
``info.x-category``, operation tags (``Pet``, ``Admins``), the folder a file sits in. Taken raw
they make hundreds of one-tool categories, and G2 ("tools of one category") samples nothing
sensible. A taxonomy maps those labels onto a small fixed list (the default is the 49 RapidAPI
categories ToolBench used, ``taxonomy_rapidapi.yaml``); what maps to nothing is placed by
:mod:`pipeline.specs.categorize`.

``collect.taxonomy`` is ``"default"``, a path to a file of the same shape, or ``"none"`` (keep
the labels the specs declare, as before).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import ConfigError

DEFAULT_TAXONOMY_FILE = Path(__file__).with_name("taxonomy_rapidapi.yaml")
FALLBACK_NAMES = ("Other", "Uncategorized")
"""The entry a tool gets when nothing places it: the taxonomy's ``Other`` if it has one."""

LabelOrigin = Literal["x-apisguru-categories", "index", "x-category", "toolbench", "tags", "folder"]
"""Where a declared label came from, in the order the reader offers them."""

_SEPARATORS = re.compile(r"[\s_\-/,&.+]+")


class TaxonomyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)

    def embedding_text(self) -> str:
        """What a tool's text is compared with: the name in words, the description, the keywords."""
        words = _SEPARATORS.sub(" ", self.name)
        keywords = ", ".join(self.keywords)
        return f"{words}: {self.description} {keywords}".strip()


class Taxonomy(BaseModel):
    """Categories, and the aliases other catalogs' labels map through (``None``: too broad to say)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    categories: list[TaxonomyEntry] = Field(min_length=1)
    aliases: dict[str, str | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        names = [entry.name for entry in self.categories]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"categories named more than once: {', '.join(repeated)}")
        unknown = sorted(str(t) for t in self.aliases.values() if t is not None and t not in names)
        if unknown:
            raise ValueError(f"aliases point at categories that are not listed: {', '.join(unknown)}")
        return self

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.categories]

    @property
    def fallback(self) -> str:
        """Where an unplaceable tool goes: ``Other`` when the taxonomy has it."""
        for name in FALLBACK_NAMES:
            if name in self.names:
                return name
        return "Uncategorized"

    def lookup(self, *, tags_decide: bool = False) -> TaxonomyLookup:
        return TaxonomyLookup.of(self, tags_decide=tags_decide)


class TaxonomyLookup(BaseModel):
    """Normalised label → category, built once and shipped to the reader processes.

    ``strict`` holds the category names alone (for tags, which are mostly operation groups:
    a tag ``Auth`` must not make a tool Cybersecurity, a tag ``Weather`` may make it Weather);
    ``loose`` adds the keywords and aliases (for labels that are meant as categories).
    ``aliases`` are other catalogs' category names (APIs.guru's), consulted first for labels
    from those catalogs; ``None`` is an alias that deliberately says nothing (``cloud``).
    """

    strict: dict[str, str]
    loose: dict[str, str]
    aliases: dict[str, str | None]
    fallback: str
    tags_decide: bool = False
    """Whether a tag that names a category places the tool. Off by default: on 628 APIs.guru
    specs without their declared categories, tags named a category for 55 tools, and agreed
    with the declared category for 9 of them (the embedding, which reads the tags too: 112 of
    279); tags such as Search, Data, Media and Events name groups of operations."""

    @classmethod
    def of(cls, taxonomy: Taxonomy, *, tags_decide: bool = False) -> TaxonomyLookup:
        strict: dict[str, str] = {}
        loose: dict[str, str] = {}
        aliases: dict[str, str | None] = {}
        for entry in taxonomy.categories:
            for key in _keys(entry.name):
                strict.setdefault(key, entry.name)
        for entry in taxonomy.categories:
            for keyword in entry.keywords:
                for key in _keys(keyword):
                    loose.setdefault(key, entry.name)
        for alias, target in taxonomy.aliases.items():
            for key in _keys(alias):
                aliases[key] = target
        loose.update(strict)  # a category's own name always wins over another's keyword
        return cls(strict=strict, loose=loose, aliases=aliases, fallback=taxonomy.fallback, tags_decide=tags_decide)

    def match(self, label: str, origin: LabelOrigin) -> str | None | Literal[False]:
        """The category ``label`` (found at ``origin``) names; ``None`` for an alias that says
        "undecided"; ``False`` when the label is unknown."""
        keys = _keys(label)
        if origin in ("x-apisguru-categories", "index"):
            for key in keys:
                if key in self.aliases:
                    return self.aliases[key]
        table = self.strict if origin == "tags" else self.loose
        for key in keys:
            if key in table:
                return table[key]
        return False

    def place(self, labels: Iterable[tuple[LabelOrigin, str]]) -> tuple[str, LabelOrigin, str] | None:
        """The first declared label that names a category: (category, where it came from, label).

        Tags count only with ``tags_decide``, and match category names only; the fallback (``Other``) is never chosen by a label,
        since a spec tagged ``Other`` says nothing about what it does.
        """
        for origin, label in labels:
            if origin == "tags" and not self.tags_decide:
                continue
            found = self.match(label, origin)
            if found and found != self.fallback:
                return found, origin, label
        return None


def _keys(label: str) -> list[str]:
    """Spellings that should meet: ``Health_and_Fitness`` = ``health & fitness``; plurals."""
    words = _SEPARATORS.sub(" ", label.strip().lower()).replace(" and ", " ").strip()
    if not words:
        return []
    keys = [words]
    if words.endswith("s") and len(words) > 3:
        keys.append(words[:-1])
    else:
        keys.append(words + "s")
    return keys


def load_taxonomy(value: str) -> Taxonomy | None:
    """``collect.taxonomy``: ``"default"``, ``"none"`` (no taxonomy) or a YAML/JSON file.

    Raises :class:`ConfigError` naming the file when it cannot be read or is not a taxonomy.
    """
    if value.strip().lower() == "none":
        return None
    path = DEFAULT_TAXONOMY_FILE if value.strip().lower() == "default" else Path(value).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"collect.taxonomy: cannot read {path} ({error.strerror or error})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"collect.taxonomy: {path} is not valid YAML/JSON ({error})") from error
    if not isinstance(data, dict):
        raise ConfigError(
            f"collect.taxonomy: {path} must hold a mapping with 'categories' (a list of name, "
            "description, keywords), not a {type(data).__name__}"
        )
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors()[:5]
        )
        raise ConfigError(f"collect.taxonomy: {path} is not a taxonomy ({problems})") from error
