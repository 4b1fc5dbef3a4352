"""The report's result types: tables that both the markdown and a Prefect artifact can show."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

Cell = str | int | float


class ReportTable(BaseModel):
    """One table of the report; the markdown renders exactly these rows (see :func:`format_cell`)."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = Field(default_factory=list)

    def records(self) -> list[dict[str, Cell]]:
        """Rows as column → value mappings, the shape Prefect's table artifacts take."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Report(BaseModel):
    """What :func:`pipeline.report.build.build_report` wrote."""

    markdown_path: Path
    figures: list[Path] = Field(default_factory=list)
    tables: list[ReportTable] = Field(default_factory=list)

    def table(self, key: str) -> ReportTable | None:
        return next((table for table in self.tables if table.key == key), None)


def format_cell(value: Cell) -> str:
    """The one text form of a cell, shared by the markdown writer and its tests.

    Floats are rounded when tables are built, so ``str`` shows them as stored; thousands
    separators would make the markdown differ from the artifact's numbers.
    """
    if isinstance(value, bool):  # bool is an int: say yes/no rather than True/False
        return "yes" if value else "no"
    return str(value)
