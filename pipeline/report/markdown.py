"""A small markdown writer that remembers the tables and figures it shows.

Tables go into the text and into :attr:`MarkdownDocument.tables` through one call, so what a
Prefect artifact publishes is by construction what the markdown shows.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.report.models import ReportTable, format_cell


def escape_cell(text: str) -> str:
    """A cell's text safe inside a pipe table (rejection reasons may contain pipes or newlines)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table_markdown(table: ReportTable) -> str:
    lines = [
        "| " + " | ".join(escape_cell(column) for column in table.columns) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(escape_cell(format_cell(cell)) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines)


class MarkdownDocument:
    """Blocks of markdown in order, plus the tables and figure files they reference."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # images are linked relative to where report.md is written
        self._blocks: list[str] = []
        self.tables: list[ReportTable] = []
        self.figures: list[Path] = []

    def heading(self, text: str, level: int = 2) -> None:
        self._blocks.append(f"{'#' * level} {text}")

    def paragraph(self, text: str) -> None:
        self._blocks.append(text)

    def bullets(self, items: list[str]) -> None:
        if items:
            self._blocks.append("\n".join(f"- {item}" for item in items))

    def not_run(self, stage: str) -> None:
        """The one wording for a section whose stage has not produced anything yet."""
        self._blocks.append(f"_The `{stage}` stage has not run for this run folder yet._")

    def table(self, table: ReportTable | None) -> None:
        if table is None:
            return
        self.tables.append(table)
        self._blocks.append(f"**{table.title}**\n\n{table_markdown(table)}")

    def image(self, path: Path, caption: str) -> None:
        self.figures.append(path)
        self._blocks.append(f"![{caption}]({path.relative_to(self.folder).as_posix()})")

    def render(self) -> str:
        return "\n\n".join(self._blocks) + "\n"
