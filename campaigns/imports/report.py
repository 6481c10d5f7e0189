"""CSVs Handoff writes: every cell that a spreadsheet would run as a formula is escaped."""

import csv
from collections.abc import Iterable, Iterator

from .models import ImportJob

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REPORT_COLUMNS = ("error line", "error column", "error reason")


def safe_cell(value) -> str:
    """The value as text, with a leading apostrophe where it would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """Rows as CSV text lines, every cell escaped (for a StreamingHttpResponse)."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def error_report_rows(job: ImportJob) -> Iterator[list]:
    """The failed rows as they were in the file, then where and why they failed: fix the
    cells, delete nothing, and upload the file again (the three error columns are ignored)."""
    width = len(job.columns)
    yield [*job.columns, *REPORT_COLUMNS]
    for error in job.row_errors.order_by("line", "id").iterator(chunk_size=2000):
        cells = list(error.cells or [])[:width]
        cells += [""] * (width - len(cells))
        yield [*cells, error.line, error.column, error.message]
