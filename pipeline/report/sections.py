"""What each section of the run report says, given the gathered figures.

One function per section; each writes its text, tables and charts into the document, or says
that its stage has not run.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.report import plots
from pipeline.report.markdown import MarkdownDocument
from pipeline.report.models import Cell
from pipeline.report.quality import OPENING_WORDS, data_quality, quality_tables, write_quality
from pipeline.report.stats import RunStats
from pipeline.report.tables import (
    annotate_table,
    calls_per_path_table,
    catalog_table,
    category_assignment_table,
    cost_table,
    dropped_instructions_table,
    environment_cache_table,
    export_table,
    funnel_table,
    instructions_table,
    llm_cache_table,
    llm_usage_table,
    rejection_reasons_table,
    retriever_build_table,
    retriever_metrics_table,
    search_table,
    stages_table,
    verify_groups_table,
)
from pipeline.report.tree_picture import draw_tree

OFFLINE_PREFIX = "offline"


def models_used(stats: RunStats) -> dict[str, str]:
    """Which model did what, as the stages recorded it."""
    found = {
        "instruction writer": (stats.stage("generate") or {}).get("model"),
        "search policy": (stats.stage("annotate") or {}).get("model"),
        "judge": (stats.stage("verify") or {}).get("judge"),
    }
    return {role: str(name) for role, name in found.items() if name}


def header(doc: MarkdownDocument, stats: RunStats) -> None:
    manifest = stats.manifest
    doc.heading(f"Run report: {manifest.get('run', stats.run_dir.name)}", level=1)
    doc.bullets([
        f"run folder: `{stats.run_dir}`",
        f"created {manifest.get('created', '?')}, last updated {manifest.get('updated', '?')}",
        f"toolgen {manifest.get('toolgen_version', '?')}, Python {manifest.get('python', '?')}",
        *(f"{role}: `{name}`" for role, name in models_used(stats).items()),
    ])
    policy = (stats.stage("annotate") or {}).get("model")
    offline = [role for role, name in models_used(stats).items() if name.startswith(OFFLINE_PREFIX)]
    if policy and str(policy).startswith(OFFLINE_PREFIX):
        doc.paragraph(
            "> **Offline data.** The solution paths were made by a rule-based offline engine "
            f"(`{policy}`), not an LLM; its token counts are estimated from text length. "
            "Use this run to check the pipeline, not as training data. "
            f"Offline roles: {', '.join(offline)}."
        )
    elif offline:
        doc.paragraph(f"> **Partly offline.** These roles used the rule-based offline engine, not an LLM: "
                      f"{', '.join(offline)}.")
    doc.table(stages_table(stats))


def catalog(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Catalog")
    table = catalog_table(stats.catalog)
    if table is None or stats.catalog is None:
        doc.not_run("collect")
        return
    doc.paragraph(f"{stats.catalog.total_tools} tools with {stats.catalog.total_apis} APIs "
                  f"in {len(stats.catalog.tools)} categories.")
    doc.table(table)
    doc.table(category_assignment_table(stats))
    labels = [str(row[0]) for row in table.rows]
    doc.image(plots.bar_chart(doc.folder / "catalog_by_category.png", labels,
                              {"tools": _numbers(table.rows, 1), "APIs": _numbers(table.rows, 2)},
                              title="Catalog by category", value_label="count"),
              "Tools and APIs per category")


def instructions(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Instructions")
    table = instructions_table(stats)
    if table is None:
        doc.not_run("generate")
        return
    doc.table(table)
    doc.table(dropped_instructions_table(stats))
    groups = [row for row in table.rows if row[0] != "all"]
    if groups:
        doc.image(plots.bar_chart(doc.folder / "instructions_per_group.png", [str(row[0]) for row in groups],
                                  {"kept": _numbers(groups, 2), "dropped": _numbers(groups, 3)},
                                  title="Instructions per group", value_label="instructions", stacked=True),
                  "Instructions kept and dropped per group")


def solution_paths(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Solution paths")
    section = stats.stage("annotate")
    if section is None and not stats.trajectories.trees:
        doc.not_run("annotate")
        return
    doc.table(annotate_table(stats))
    outstanding = int((section or {}).get("failures_outstanding") or 0)
    if outstanding:
        kinds = ", ".join(f"{name} {count}" for name, count in sorted(((section or {}).get("query_failures") or {}).items()))
        doc.paragraph(f"{outstanding} queries failed by an error ({kinds or 'see the file'}) and are listed in "
                      "`failures/annotate.jsonl`; a rerun of annotate tries them again.")
    trajectories = stats.trajectories
    if not trajectories.trees:
        doc.paragraph("The manifest records an annotate stage but the run folder holds no trajectories.")
        return
    doc.paragraph(
        f"{trajectories.trees} trees searched; {trajectories.backtracking_trees} of them backtrack "
        f"({100 * trajectories.backtracking_share:.1f} %)."
    )
    doc.table(search_table(stats))
    doc.table(calls_per_path_table(stats.samples))
    if stats.samples.count:
        doc.image(plots.histogram(doc.folder / "calls_per_path.png", stats.samples.calls_per_path,
                                  title=f"API calls per chosen path ({stats.samples.source} samples)",
                                  value_label="API calls"), "API calls per chosen path")
    doc.image(plots.histogram(doc.folder / "tree_sizes.png", trajectories.nodes, title="Nodes per search tree",
                              value_label="nodes"), "Nodes per search tree")
    doc.image(plots.histogram(doc.folder / "backtracks.png", trajectories.backtracks,
                              title="Backtracks per search tree", value_label="backtracks"),
              "Backtracks per search tree")


def verification(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Verification")
    section = stats.stage("verify")
    if section is None:
        doc.not_run("verify")
        return
    doc.bullets([
        f"judge: `{section.get('judge', '?')}`, votes: {section.get('votes', '?')}",
        f"accepted: {section.get('accepted', '?')}",
        *([f"errors corrected before acceptance: {section['corrected_errors']}"]
          if "corrected_errors" in section else []),
    ])
    funnel = funnel_table(stats)
    doc.table(funnel)
    if funnel is not None:
        doc.image(plots.funnel_chart(doc.folder / "verify_funnel.png", [str(row[0]) for row in funnel.rows],
                                     [int(row[1]) for row in funnel.rows], title="Verification funnel"),
                  "Verification funnel")
    doc.table(rejection_reasons_table(stats))
    doc.table(verify_groups_table(stats))


def quality(doc: MarkdownDocument, stats: RunStats) -> None:
    """Whether the data is fit to train on (:mod:`pipeline.report.quality`); also ``quality.json``."""
    doc.heading("Data quality")
    figures = data_quality(stats.run_dir)
    if figures.source == "none":
        doc.not_run("annotate")
        return
    write_quality(figures, doc.folder)
    doc.paragraph(
        "Grounded arguments come from the instruction, an earlier result, the parameter's schema, or are free "
        "values (booleans, small numbers); near duplicates are within the generate stage's deduplication "
        f"threshold (cosine {figures.duplicate_threshold}); openings are the first {OPENING_WORDS} words. "
        "Figures per group count duplicates against the whole run. All figures are in `quality.json`.")
    for table in quality_tables(figures):
        doc.table(table)


def cost(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Cost per sample")
    table = cost_table(stats)
    if table is None:
        doc.not_run("annotate")
        return
    if stats.samples.source == "accepted":
        doc.paragraph(f"Over the {stats.samples.count} accepted samples. The last column divides the spend "
                      "of every search, including failed and rejected ones, by the accepted samples.")
    else:
        doc.paragraph(f"The verify stage has not run, so these figures are **per answered trajectory** "
                      f"({stats.samples.count}), not per accepted sample. The last column divides the spend "
                      "of every search, including failed ones, by the answered trajectories.")
    doc.table(table)
    doc.table(llm_usage_table(stats))


def caches(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Caches")
    environment = environment_cache_table(stats)
    llm = llm_cache_table(stats)
    if environment is None:
        doc.paragraph("No stage recorded environment response cache figures.")
    doc.table(environment)
    if llm is None:
        doc.paragraph("No stage recorded LLM reply cache figures.")
    doc.table(llm)


def tree_picture(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("One search tree")
    tree = stats.trajectories.drawn
    if tree is None:
        doc.not_run("annotate")
        return
    why = "A tree that backtracks" if tree.backtracks else "No tree in this run backtracks, so an ordinary one"
    doc.paragraph(f"{why}: group {tree.group}, query {tree.query_id}. Nodes are coloured by status; the "
                  "bold path is the one kept as the solution; labels are function names without their tool.")
    doc.image(draw_tree(doc.folder / "search_tree.png", tree), f"Search tree of {tree.group} query {tree.query_id}")


def export(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Exports")
    table = export_table(stats)
    if table is None:
        doc.not_run("export")
        return
    doc.table(table)


def retriever(doc: MarkdownDocument, stats: RunStats) -> None:
    doc.heading("Retriever")
    section = stats.stage("retriever")
    if section is None:
        doc.not_run("retriever")
        return
    if section.get("skipped"):
        doc.paragraph(f"Skipped: {section['skipped']}.")
        return
    doc.table(retriever_build_table(stats))
    if section.get("default_ranking"):
        doc.paragraph(f"Default ranking: `{section['default_ranking']}` ({section.get('default_reason') or 'as built'}).")
    table = retriever_metrics_table(stats)
    if table is None:
        doc.paragraph("The retriever has not been evaluated yet (`toolgen retriever eval`).")
        return
    doc.table(table)
    for number, query_set in enumerate(dict.fromkeys(str(row[0]) for row in table.rows)):
        rows = [row for row in table.rows if row[0] == query_set and int(row[3]) > 0]
        groups = list(dict.fromkeys(str(row[2]) for row in rows))
        rankings = list(dict.fromkeys(str(row[1]) for row in rows))
        if not rows:
            continue
        ndcg5 = {(str(row[1]), str(row[2])): float(row[6]) for row in rows}
        series: dict[str, Sequence[float]] = {ranking: [ndcg5.get((ranking, group), 0.0) for group in groups] for ranking in rankings}
        doc.image(plots.bar_chart(doc.folder / f"retriever_ndcg5_{number}.png", groups, series,
                                  title=f"NDCG@5 per ranking and group ({query_set})", value_label="NDCG@5"),
                  f"Retriever NDCG@5 per ranking and group, {query_set}")


def _numbers(rows: Sequence[Sequence[Cell]], column: int) -> list[float]:
    """A column of counts of a table, as the charts plot it."""
    return [float(row[column]) for row in rows]


SECTIONS = (header, catalog, instructions, solution_paths, verification, quality, cost, caches, tree_picture, export,
            retriever)
