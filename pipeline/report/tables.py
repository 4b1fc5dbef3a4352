"""The report's tables, built from gathered figures (pure: no file is read here).

Each builder returns ``None`` when the stage it describes has not run, so the markdown can say
so instead of showing an empty table.
"""

from __future__ import annotations

from typing import Any

from pipeline.report.models import Cell, ReportTable
from pipeline.report.stats import COST_FIGURES, CatalogStats, Distribution, RunStats, SampleStats

STAGE_ORDER = ("collect", "probe", "generate", "annotate", "verify", "export")
_LLM_STAGES = ("generate", "annotate", "verify")
_ENV_STAGES = ("probe", "annotate", "verify")


def _round(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


def _share(part: float, whole: float) -> float:
    """A percentage with one decimal; 0 of nothing is 0 rather than an error."""
    return _round(100.0 * part / whole, 1) if whole else 0.0


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def stages_table(stats: RunStats) -> ReportTable:
    rows: list[list[Cell]] = []
    for name in [*STAGE_ORDER, *sorted(set(stats.stages) - set(STAGE_ORDER))]:
        section = stats.stage(name)
        if section is None:
            rows.append([name, "not run", "", ""])
        else:
            rows.append([name, "ran", str(section.get("finished", "")), _round(section.get("seconds") or 0.0)])
    return ReportTable(key="stages", title="Stages", columns=["stage", "status", "finished", "seconds"], rows=rows)


def catalog_table(catalog: CatalogStats | None) -> ReportTable | None:
    if catalog is None:
        return None
    rows: list[list[Cell]] = [
        [category, catalog.tools[category], catalog.apis[category]]
        for category in sorted(catalog.tools, key=lambda c: (-catalog.apis[c], c))
    ]
    return ReportTable(key="catalog_by_category", title="Catalog by category",
                       columns=["category", "tools", "apis"], rows=rows)


def category_assignment_table(stats: RunStats) -> ReportTable | None:
    """How the catalog's categories were chosen (collect's manifest section), or ``None``
    for a run collected before categories were recorded this way."""
    section = stats.stage("collect")
    if section is None or "category_origins" not in section:
        return None
    tools = _int(section.get("tools"))
    categories = section.get("categories") or {}
    covered = _int(section.get("tools_in_collections"))
    rows: list[list[Cell]] = [
        ["taxonomy", str(section.get("taxonomy") or "none")],
        ["categories", len(categories)],
        ["categories with a single tool", _int(section.get("single_tool_categories"))],
        ["tools in a collection (G3)", f"{covered} of {tools} ({100 * covered / tools:.0f} %)" if tools else "0"],
    ]
    rows.extend([f"tools placed by: {origin}", _int(count)]
                for origin, count in (section.get("category_origins") or {}).items())
    return ReportTable(key="category_assignment", title="Category assignment",
                       columns=["figure", "value"], rows=rows)


def instructions_table(stats: RunStats) -> ReportTable | None:
    section = stats.stage("generate")
    if section is None:
        return None
    rows: list[list[Cell]] = []
    for group, figures in sorted((section.get("per_group") or {}).items()):
        made, kept = _int(figures.get("made")), _int(figures.get("kept"))
        rows.append([group, made, kept, _int(figures.get("dropped", made - kept))])
    rows.append(["all", _int(section.get("made")), _int(section.get("kept")),
                 sum(_int(v) for v in (section.get("dropped") or {}).values())])
    return ReportTable(key="instructions_per_group", title="Instructions per group",
                       columns=["group", "made", "kept", "dropped"], rows=rows)


def dropped_instructions_table(stats: RunStats) -> ReportTable | None:
    section = stats.stage("generate")
    dropped = (section or {}).get("dropped") or {}
    if not dropped:
        return None
    rows: list[list[Cell]] = [[reason, _int(n)] for reason, n in sorted(dropped.items(), key=lambda kv: -_int(kv[1]))]
    return ReportTable(key="instructions_dropped", title="Why instructions were dropped",
                       columns=["reason", "instructions"], rows=rows)


def annotate_table(stats: RunStats) -> ReportTable | None:
    section = stats.stage("annotate")
    if section is None:
        return None
    rows: list[list[Cell]] = []
    for group, figures in sorted((section.get("per_group") or {}).items()):
        queries, answered = _int(figures.get("queries")), _int(figures.get("answered"))
        rows.append([group, queries, answered, _int(figures.get("failed")), _share(answered, queries)])
    queries, answered = _int(section.get("queries")), _int(section.get("answered"))
    rows.append(["all", queries, answered, _int(section.get("failed")), _share(answered, queries)])
    return ReportTable(key="annotate_per_group", title="Solution paths per group",
                       columns=["group", "queries", "answered", "failed", "answered %"], rows=rows)


def funnel_table(stats: RunStats) -> ReportTable | None:
    section = stats.stage("verify") or {}
    funnel = section.get("funnel") or {}
    if not funnel:
        return None
    rejected = section.get("rejected") or {}
    candidates = _int(next(iter(funnel.values())))
    rows: list[list[Cell]] = [
        [stage, _int(remaining), _int(rejected.get(stage, 0)), _share(_int(remaining), candidates)]
        for stage, remaining in funnel.items()
    ]
    return ReportTable(key="verify_funnel", title="Verification funnel",
                       columns=["stage", "remaining", "rejected at this stage", "% of candidates"], rows=rows)


def rejection_reasons_table(stats: RunStats) -> ReportTable | None:
    reasons = (stats.stage("verify") or {}).get("reasons") or {}
    if not reasons:
        return None
    rows: list[list[Cell]] = [[reason, _int(n)] for reason, n in sorted(reasons.items(), key=lambda kv: (-_int(kv[1]), kv[0]))]
    return ReportTable(key="verify_rejections", title="Rejection reasons", columns=["reason", "samples"], rows=rows)


def verify_groups_table(stats: RunStats) -> ReportTable | None:
    per_group = (stats.stage("verify") or {}).get("per_group") or {}
    if not per_group:
        return None
    rows: list[list[Cell]] = []
    for group, figures in sorted(per_group.items()):
        candidates, accepted = _int(figures.get("candidates")), _int(figures.get("accepted"))
        rows.append([group, candidates, accepted, _share(accepted, candidates)])
    return ReportTable(key="verify_per_group", title="Accepted samples per group",
                       columns=["group", "candidates", "accepted", "accepted %"], rows=rows)


def _summary_row(label: str, dist: Distribution) -> list[Cell]:
    return [label, _round(dist.mean), _round(dist.median), _round(dist.p90), _round(dist.max or 0)]


def search_table(stats: RunStats) -> ReportTable | None:
    trajectories = stats.trajectories
    if not trajectories.trees:
        return None
    rows = [
        _summary_row("nodes per tree", trajectories.nodes),
        _summary_row("backtracks per tree", trajectories.backtracks),
        _summary_row(f"API calls on the chosen path ({stats.samples.source} samples)", stats.samples.calls_per_path),
    ]
    return ReportTable(key="search_summary", title="Search trees", columns=["figure", "mean", "median", "p90", "max"],
                       rows=rows)


def calls_per_path_table(samples: SampleStats) -> ReportTable | None:
    if not samples.count:
        return None
    rows: list[list[Cell]] = [[int(value), n] for value, n in samples.calls_per_path.items()]
    return ReportTable(key="calls_per_path", title=f"API calls per chosen path ({samples.source} samples)",
                       columns=["calls", "samples"], rows=rows)


def cost_table(stats: RunStats) -> ReportTable | None:
    """Per-sample cost, and the amortised cost: every search's spend divided by the samples kept,
    which is what a sample really costs once the failed and rejected searches are paid for."""
    samples = stats.samples
    if not samples.count:
        return None
    rows: list[list[Cell]] = []
    for name in COST_FIGURES:
        dist = samples.cost[name]
        amortised = stats.trajectories.totals[name] / samples.count if stats.trajectories.trees else 0.0
        rows.append([name.replace("_", " "), _round(dist.mean), _round(dist.median), _round(dist.p90),
                     _round(amortised)])
    return ReportTable(key="cost_per_sample", title=f"Cost per {samples.source} sample",
                       columns=["figure", "mean", "median", "p90", "all searches / samples"], rows=rows)


def _llm_entries(stats: RunStats, key: str = "llm_usage") -> list[tuple[str, str, dict[str, Any]]]:
    entries: list[tuple[str, str, dict[str, Any]]] = []
    for stage in _LLM_STAGES:
        section = stats.stage(stage) or {}
        usage = section.get(key)
        if usage is None and key != "llm_usage":
            usage = section.get("llm_usage")  # recorded before totals were kept
        entries += [(stage, role, figures) for role, figures in sorted((usage or {}).items())
                    if isinstance(figures, dict)]
    return entries


def _cost_cell(figures: dict[str, Any]) -> Cell:
    """USD, or "unknown" when a model without a price answered (never a made-up 0)."""
    cost = figures.get("cost_usd")
    if cost is None:
        return "unknown" if _int(figures.get("requests")) else 0.0
    return _round(cost, 4)


def llm_usage_table(stats: RunStats) -> ReportTable | None:
    """What the stages spent on models, over every invocation (a resumed run adds to it)."""
    rows: list[list[Cell]] = [
        [stage, role, _int(figures.get("requests")), _int(figures.get("prompt_tokens")),
         _int(figures.get("completion_tokens")), _cost_cell(figures)]
        for stage, role, figures in _llm_entries(stats, "llm_usage_total")
    ]
    if not rows:
        return None
    return ReportTable(key="llm_usage", title="LLM usage",
                       columns=["stage", "role", "requests", "prompt tokens", "completion tokens", "cost (USD)"], rows=rows)


def llm_cache_table(stats: RunStats) -> ReportTable | None:
    """The reply cache's figures, for the roles whose ``llm_usage`` entry carries them (a role
    without a cache shows nothing rather than a misleading 0 %)."""
    rows: list[list[Cell]] = []
    for stage, role, figures in _llm_entries(stats):
        if "cache_hits" not in figures:
            continue
        hits, misses = _int(figures.get("cache_hits")), _int(figures.get("cache_misses"))
        rows.append([stage, role, hits, misses, _share(hits, hits + misses)])
    if not rows:
        return None
    return ReportTable(key="llm_cache", title="LLM reply cache",
                       columns=["stage", "role", "hits", "misses", "hit %"], rows=rows)


def environment_cache_table(stats: RunStats) -> ReportTable | None:
    rows: list[list[Cell]] = []
    for stage in _ENV_STAGES:
        cache = ((stats.stage(stage) or {}).get("environment") or {}).get("cache")
        if not isinstance(cache, dict):
            continue
        hits, misses = _int(cache.get("hits")), _int(cache.get("misses"))
        rows.append([stage, hits, misses, _int(cache.get("writes")), _share(hits, hits + misses)])
    if not rows:
        return None
    return ReportTable(key="environment_cache", title="Environment response cache",
                       columns=["stage", "hits", "misses", "writes", "hit %"], rows=rows)


def export_table(stats: RunStats) -> ReportTable | None:
    section = stats.stage("export") or {}
    rows: list[list[Cell]] = []
    for fmt, figures in sorted(section.items()):
        splits = figures.get("rows") if isinstance(figures, dict) else None
        if isinstance(splits, dict):
            rows += [[fmt, split, _int(n)] for split, n in splits.items()]
    if not rows:
        return None
    return ReportTable(key="export_rows", title="Exported rows", columns=["format", "split", "rows"], rows=rows)


RETRIEVER_METRICS = ("ndcg_at_1", "ndcg_at_3", "ndcg_at_5", "recall_at_5", "recall_at_10")


def retriever_build_table(stats: RunStats) -> ReportTable | None:
    """What the retriever's last build did: documents, encoded, reused, index kind, recall loss."""
    build = (stats.stage("retriever") or {}).get("build")
    if not isinstance(build, dict):
        return None
    recall = build.get("recall_at_10")
    rows: list[list[Cell]] = [
        ["documents", _int(build.get("documents"))],
        ["encoded", _int(build.get("encoded"))],
        ["reused from the cache", _int(build.get("reused"))],
        ["added / removed / changed", f"{_int(build.get('added'))} / {_int(build.get('removed'))} / "
                                      f"{_int(build.get('changed'))}"],
        ["index", str(build.get("kind", "?")) + (f" (recall@10 vs exact {recall})" if recall is not None else "")],
        ["model", str(build.get("model", "?"))],
    ]
    return ReportTable(key="retriever_build", title="Retriever index", columns=["figure", "value"], rows=rows)


def retriever_metrics_table(stats: RunStats) -> ReportTable | None:
    """NDCG@1/3/5 and recall@5/10 per query set, ranking and group, as the retriever stage recorded them."""
    metrics = (stats.stage("retriever") or {}).get("metrics")
    if not isinstance(metrics, list) or not metrics:
        return None
    rows: list[list[Cell]] = []
    for row in metrics:
        if isinstance(row, dict):
            rows.append([str(row.get("set", "")), str(row.get("ranking", "")), str(row.get("group", "")),
                         _int(row.get("queries")), *(round(float(row.get(m) or 0.0), 4) for m in RETRIEVER_METRICS)])
    return ReportTable(key="retriever_metrics", title="Retriever quality",
                       columns=["query set", "ranking", "group", "queries", "NDCG@1", "NDCG@3", "NDCG@5",
                                "recall@5", "recall@10"], rows=rows)
