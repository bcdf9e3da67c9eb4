"""CSV exports (R20.5, property 46): RFC 4180, UTF-8 with a BOM, formulas neutralised."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from thotis_ext.stats.csv_export import BOM, FORMULA_TRIGGERS, neutralise_formula, to_csv

# Any text a cell can hold: every character but lone surrogates, which UTF-8 cannot encode.
cells = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
tricky_cells = st.one_of(
    cells,
    st.sampled_from(["a,b", 'say "hi"', "line\r\nbreak", "lone\rcr", "lone\nlf", "Élodie à l'ENS", "", " "]),
    st.tuples(st.sampled_from(FORMULA_TRIGGERS), cells).map("".join),
)


def parse(document: bytes) -> list[list[str]]:
    text = document.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :], newline="")))


def shown(cell: str) -> str:
    """What a reader gets back: the cell, with an apostrophe in front of a would-be formula."""
    return "'" + cell if cell[:1] in FORMULA_TRIGGERS else cell


class TestCsvExport:
    @given(st.integers(1, 6).flatmap(lambda width: st.tuples(
        st.lists(tricky_cells, min_size=width, max_size=width),
        st.lists(st.lists(tricky_cells, min_size=width, max_size=width), max_size=8),
    )))  # fmt: skip
    def test_property_46_every_document_parses_back_to_its_header_and_rows(
        self, table: tuple[list[str], list[list[str]]]
    ) -> None:
        header, rows = table
        assert parse(to_csv(header, rows)) == [[shown(cell) for cell in row] for row in [header, *rows]]

    def test_rfc_4180_layout_crlf_quotes_doubled_utf8_with_bom(self) -> None:
        document = to_csv(["name", "feedback"], [["Zoé", 'Super, "vraiment"\nmerci'], ["Léo", ""]])
        assert document == (b"\xef\xbb\xbf" + 'name,feedback\r\nZoé,"Super, ""vraiment""\nmerci"\r\nLéo,\r\n'.encode())

    def test_header_only_when_there_are_no_rows(self) -> None:
        assert to_csv(["id", "rating"], []) == b"\xef\xbb\xbfid,rating\r\n"

    def test_a_row_of_one_empty_cell_survives(self) -> None:
        assert parse(to_csv(["feedback"], [[""]])) == [["feedback"], [""]]

    def test_formula_injection_is_neutralised(self) -> None:
        formulas = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
        parsed = parse(to_csv(["feedback"], [[cell] for cell in formulas]))
        assert [row[0] for row in parsed[1:]] == ["'" + cell for cell in formulas]
        assert neutralise_formula("5 stars = great") == "5 stars = great"
        assert neutralise_formula("") == ""
