"""Reading an uploaded CSV file from disk, as a stream: encoding, delimiter, header, records.

A file is never read whole into memory: every pass streams it, record by record.
"""

import codecs
import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Fields are limited by the importer (a clear error per cell), not by the csv module.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_BYTES = 64 * 1024
SAMPLE_ROWS = 1000


def _latin1_fallback(error: UnicodeDecodeError):
    # The five bytes Windows-1252 leaves undefined decode as Latin-1 does, never fail.
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("handoff_latin1", _latin1_fallback)


class NotACSV(Exception):
    """The file cannot be imported at all: binary, empty, header only, no usable column."""


class TooManyRows(Exception):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(
            f"The file has more than {limit:,} data rows; split it into files of at most "
            f"{limit:,} rows."
        )


@dataclass
class Inspection:
    encoding: str
    delimiter: str
    columns: list[str]
    total: int
    sample: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def encoding_label(self) -> str:
        return {
            "utf-8": "UTF-8",
            "utf-8-sig": "UTF-8 (with BOM)",
            "utf-16": "UTF-16",
            "utf-16-le": "UTF-16 LE",
            "utf-16-be": "UTF-16 BE",
            "cp1252": "Windows-1252",
        }.get(self.encoding, self.encoding)


def _guess_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        half = max(len(head) // 2, 1)
        even_zeros = head[0::2].count(0)
        odd_zeros = head[1::2].count(0)
        if odd_zeros > half * 0.3 and even_zeros < half * 0.05:
            return "utf-16-le"
        if even_zeros > half * 0.3 and odd_zeros < half * 0.05:
            return "utf-16-be"
        raise NotACSV("This is not a CSV file: it contains binary data.")
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    if controls > max(len(head) // 100, 2):
        raise NotACSV("This is not a CSV file: it contains binary data.")
    return "utf-8"


def open_text(path: Path, encoding: str):
    errors = "handoff_latin1" if encoding == "cp1252" else "strict"
    return open(path, encoding=encoding, errors=errors, newline="")


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most, consistent columns."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end in the middle of a line
    lines = lines[:50]
    best, best_score = ",", (0, 0)
    sample = "".join(lines)
    for delimiter in DELIMITERS:
        try:
            # newline="": a lone CR inside a line is the csv module's to judge, as when reading.
            reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
            rows = [row for row in reader if row]
        except csv.Error:
            continue  # this delimiter does not read the sample; the reader says why later
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(1 for row in rows[1:] if len(row) in (width, width + 1, width - 1))
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def header_columns(row: list[str]) -> list[str]:
    """Trimmed names; a trailing empty column dropped; blanks and repeats made unique."""
    names = [name.strip().lstrip("\ufeff").strip() for name in row]
    while names and not names[-1]:
        names.pop()
    seen: dict[str, int] = {}
    taken: set[str] = set()
    unique = []
    for index, name in enumerate(names, start=1):
        name = name or f"Column {index}"
        base = name
        # "a (2)" may be a header of its own: count on until the name is free.
        while name.lower() in taken:
            seen[base.lower()] = seen.get(base.lower(), 1) + 1
            name = f"{base} ({seen[base.lower()]})"
        taken.add(name.lower())
        unique.append(name)
    return unique


def records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for every non-blank record, the header first."""
    with open_text(path, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=False)
        previous = 0
        for row in reader:
            start = previous + 1
            previous = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield start, row


def inspect(path: Path, *, max_rows: int) -> Inspection:
    """Detect the encoding and delimiter, read the header, count the data rows (refusing
    more than `max_rows`) and keep the first rows as a sample, in one streaming pass (two
    when a file that looked like UTF-8 turns out not to be)."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if not head.strip():
        raise NotACSV("The file is empty.")
    encoding = _guess_encoding(head)
    try:
        return _inspect_as(path, encoding, max_rows)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise NotACSV("This is not a CSV file: it contains binary data.") from None
        return _inspect_as(path, "cp1252", max_rows)


def _inspect_as(path: Path, encoding: str, max_rows: int) -> Inspection:
    with open_text(path, encoding) as handle:
        text = handle.read(SAMPLE_BYTES)
    if "\x00" in text:
        raise NotACSV("This is not a CSV file: it contains binary data.")
    delimiter = sniff_delimiter(text)
    columns: list[str] | None = None
    total = 0
    sample: list[tuple[int, list[str]]] = []
    try:
        for line, row in records(path, encoding, delimiter):
            if columns is None:
                columns = header_columns(row)
                continue
            if not "".join(row).strip():
                continue
            total += 1
            if total > max_rows:
                raise TooManyRows(max_rows)
            if total <= SAMPLE_ROWS:
                sample.append((line, [cell[:500] for cell in row]))
    except csv.Error as exc:
        raise NotACSV(f"This is not a readable CSV file: {exc}.") from None
    if not columns:
        raise NotACSV("The file has no header row with column names.")
    if total == 0:
        raise NotACSV("The file has a header but no data rows.")
    return Inspection(
        encoding=encoding, delimiter=delimiter, columns=columns, total=total, sample=sample
    )


def data_records(
    path: Path, encoding: str, delimiter: str, *, skip: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """The data records (header and blank rows left out), after skipping `skip` of them."""
    iterator = records(path, encoding, delimiter)
    next(iterator, None)
    seen = 0
    for line, row in iterator:
        if not "".join(row).strip():
            continue
        seen += 1
        if seen <= skip:
            continue
        yield line, row
