"""What each section of the run report says, given the gathered figures.

One function per section; each writes its text, tables and charts into the document, or says
that its stage has not run.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.report import plots
from pipeline.report.markdown import MarkdownDocument
from pipeline.report.models import Cell
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


def _numbers(rows: Sequence[Sequence[Cell]], column: int) -> list[float]:
    """A column of counts of a table, as the charts plot it."""
    return [float(row[column]) for row in rows]


SECTIONS = (header, catalog, instructions, solution_paths, verification, cost, caches, tree_picture, export)
