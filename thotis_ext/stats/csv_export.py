"""CSV for administrators' spreadsheets (R20.5): RFC 4180, UTF-8 with a byte-order mark.

RFC 4180: comma separators, CRLF line endings, a field is quoted when it holds a comma, a
quote or a line break, and quotes inside it are doubled. The BOM makes Excel read the file as
UTF-8, so accents in names and feedback survive.

Formula injection: spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula
(and some strip a leading tab or carriage return first), so text a mentor or a student typed
could run in an administrator's spreadsheet. Such a cell gets a leading apostrophe, which
spreadsheets show as plain text; the value read back by a CSV parser is then `'` + the original.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Final

BOM: Final = "\ufeff"
#: First characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(cell: str) -> str:
    """The cell as a spreadsheet will show it: text, never a formula."""
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell


def to_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """The header and rows as an RFC 4180 CSV document, UTF-8 with a BOM, formulas neutralised."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise_formula(cell) for cell in header])
    writer.writerows([neutralise_formula(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8")
