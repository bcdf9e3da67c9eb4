"""French and English catalogs: same keys and placeholders, every error code worded, locales picked right."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from core.i18n import DEFAULT_LOCALE, LOCALES, Catalogs, catalogs, negotiate, normalise_locale, translate

ROOT = Path(__file__).resolve().parents[2]
#: Where API error codes are raised or mapped (the Cal.com simulator's codes are Cal.com's, not ours).
SCANNED_PACKAGES = ("core", "adapter", "thotis_ext", "webhooks_in", "webhooks_out")
EXCLUDED = ("calcom_client/simulator",)
CODE_PATTERNS = (
    # `code = "…"` class attributes of ThotisError subclasses
    re.compile(r'^\s+code\s*(?::\s*ClassVar\[str\]\s*)?=\s*"([A-Z][A-Z0-9_]*)"', re.MULTILINE),
    # `code="…"` given when raising
    re.compile(r'\bcode="([A-Z][A-Z0-9_]*)"'),
    # `_respond(status, "CODE", …)` in adapter/errors.py
    re.compile(r'_respond\(\s*[^,()]+,\s*"([A-Z][A-Z0-9_]*)"'),
)
#: Tables of messages by code (`_START_MESSAGES = {"OFF_GRID": "…"}`), for codes raised from a variable.
MESSAGE_TABLE = re.compile(r"_MESSAGES\b[^=\n]*=\s*\{([^}]*)\}")
TABLE_KEY = re.compile(r'"([A-Z][A-Z0-9_]*)"\s*:')
PLACEHOLDER = string.Formatter()


def error_codes_in_source() -> set[str]:
    codes: set[str] = set()
    for package in SCANNED_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if any(part in path.as_posix() for part in EXCLUDED):
                continue
            text = path.read_text(encoding="utf-8")
            for pattern in CODE_PATTERNS:
                codes.update(pattern.findall(text))
            for table in MESSAGE_TABLE.findall(text):
                codes.update(TABLE_KEY.findall(table))
    return codes


def entries(locale: str) -> list[Message]:
    """The catalog's messages as written in the file, header left out."""
    with (ROOT / "core" / "locales" / f"{locale}.po").open("rb") as handle:
        return [message for message in read_po(handle, locale=locale) if message.id]


def texts(locale: str) -> dict[str, str]:
    return {str(message.id): str(message.string) for message in entries(locale)}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in PLACEHOLDER.parse(text) if name is not None}


class TestCatalogFiles:
    def test_both_languages_have_exactly_the_same_keys(self) -> None:
        fr, en = catalogs().keys("fr"), catalogs().keys("en")
        assert sorted(fr - en) == [], "keys only in fr.po"
        assert sorted(en - fr) == [], "keys only in en.po"

    def test_the_files_hold_what_is_loaded(self) -> None:
        for locale in LOCALES:
            assert set(texts(locale)) == catalogs().keys(locale)

    def test_every_key_has_the_same_placeholders_in_both_languages(self) -> None:
        fr, en = texts("fr"), texts("en")
        mismatched = {
            key: (placeholders(fr[key]), placeholders(en[key]))
            for key in fr.keys() & en.keys()
            if placeholders(fr[key]) != placeholders(en[key])
        }
        assert mismatched == {}

    @pytest.mark.parametrize("locale", LOCALES)
    def test_no_entry_is_empty_fuzzy_or_duplicated(self, locale: str) -> None:
        messages = entries(locale)
        assert len(messages) > 100
        assert [message.id for message in messages if not message.string] == []
        assert [message.id for message in messages if message.fuzzy] == []
        keys = (ROOT / "core" / "locales" / f"{locale}.po").read_text(encoding="utf-8").count("\nmsgid ")
        assert keys == len(messages) + 1  # plus the header; read_po would silently keep one of two duplicates

    @pytest.mark.parametrize("locale", LOCALES)
    def test_keys_are_dotted_and_placeholders_are_plain_names(self, locale: str) -> None:
        for key, text in texts(locale).items():
            assert re.fullmatch(r"[a-z_]+(\.[A-Za-z0-9_]+)+", key), key
            assert all(name.isidentifier() for name in placeholders(text)), key

    def test_every_error_code_in_the_source_has_a_message(self) -> None:
        codes = error_codes_in_source()
        assert {"NOT_FOUND", "MALFORMED_JSON", "DATABASE_UNAVAILABLE", "OFF_GRID"} <= codes  # the scan sees them all
        missing = sorted(code for code in codes if not catalogs().has(f"error.{code}", "en"))
        assert missing == [], "add error.<CODE> to core/locales/fr.po and en.po"

    def test_there_is_a_generic_error_message(self) -> None:
        assert catalogs().has("error.generic", "fr")
        assert catalogs().has("error.generic", "en")

    def test_the_mailbox_page_is_worded(self) -> None:
        for suffix in ("title", "empty", "date", "to", "subject", "kind", "back"):
            assert catalogs().has(f"page.mailbox.{suffix}", "fr")
        assert translate("page.mailbox.title", "en") == "Sent emails (demo mailbox)"


class TestNormaliseLocale:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("fr", "fr"), ("FR", "fr"), ("fr-CA", "fr"), ("en_GB", "en"), (" en-us ", "en"), ("EN", "en")],
    )
    def test_reads_the_primary_language_of_a_tag(self, value: str, expected: str) -> None:
        assert normalise_locale(value) == expected

    @pytest.mark.parametrize("value", [None, "", "de", "english", "f", "-fr", "zz-FR"])
    def test_anything_else_gives_the_default(self, value: str | None) -> None:
        assert normalise_locale(value) == DEFAULT_LOCALE
        assert normalise_locale(value, default="en") == "en"

    def test_an_unsupported_default_gives_french(self) -> None:
        assert normalise_locale("de", default="de") == "fr"

    @settings(max_examples=200)
    @given(value=st.one_of(st.none(), st.text(max_size=20)), default=st.text(max_size=5))
    def test_property_always_returns_a_supported_locale(self, value: str | None, default: str) -> None:
        assert normalise_locale(value, default) in LOCALES


class TestNegotiate:
    @pytest.mark.parametrize(
        ("header", "default", "expected"),
        [
            ("en-US,en;q=0.9,fr;q=0.8", "fr", "en"),
            ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "en", "fr"),
            ("de-DE,de;q=0.9,en;q=0.5", "fr", "en"),
            ("en;q=0.2, fr;q=0.7", "en", "fr"),
            ("en;q=0, fr;q=0.1", "en", "fr"),
            ("de, it", "en", "en"),
            ("*", "en", "en"),
            ("en;q=oops, fr", "en", "fr"),
            ("fr;q=1, en;q=1", "en", "fr"),
            ("EN-gb", "fr", "en"),
            ("", "en", "en"),
            (None, "fr", "fr"),
        ],
    )
    def test_picks_the_preferred_supported_language(self, header: str | None, default: str, expected: str) -> None:
        assert negotiate(header, default) == expected

    @settings(max_examples=100)
    @given(header=st.one_of(st.none(), st.text(max_size=60)), default=st.sampled_from(["fr", "en", "de", ""]))
    def test_property_always_returns_a_supported_locale(self, header: str | None, default: str) -> None:
        assert negotiate(header, default) in LOCALES


class TestTranslate:
    def test_fills_placeholders(self) -> None:
        assert translate("email.common.greeting", "fr", name="Zoé") == "Bonjour Zoé,"
        assert translate("email.common.greeting", "en-GB", name="Zoé") == "Hello Zoé,"

    def test_a_missing_parameter_leaves_its_placeholder(self) -> None:
        assert translate("email.common.greeting", "en") == "Hello {name},"

    def test_placeholders_may_be_called_key_or_locale(self) -> None:
        loaded = Catalogs({"en": {"k": "{key} in {locale}"}})
        assert loaded.translate("k", "en", key="a", locale="b") == "a in b"

    def test_parameter_values_are_not_formatted_again(self) -> None:
        assert translate("email.common.greeting", "en", name="{0} {name!r}") == "Hello {0} {name!r},"

    def test_falls_back_to_english_then_to_the_key(self) -> None:
        loaded = Catalogs({"fr": {"only.fr": "Oui"}, "en": {"only.fr": "Yes", "only.en": "Hello {who}"}})
        assert loaded.translate("only.en", "fr", who="Zoé") == "Hello Zoé"
        assert loaded.translate("nowhere", "fr") == "nowhere"
        assert loaded.translate("only.fr", "de") == "Oui"  # an unknown locale is the default one
        assert loaded.has("only.en", "en") and not loaded.has("only.en", "fr")

    def test_a_broken_format_string_is_returned_as_written(self) -> None:
        loaded = Catalogs({"en": {"broken": "Hello {", "positional": "Hello {}"}})
        assert loaded.translate("broken", "en", name="x") == "Hello {"
        assert loaded.translate("positional", "en") == "Hello {}"

    def test_catalogs_are_read_once(self) -> None:
        assert catalogs() is catalogs()
