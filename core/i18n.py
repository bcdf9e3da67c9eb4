"""French and English text for emails, pages and error messages, read from gettext catalogs.

Catalogs are `core/locales/<locale>.po`: the msgid is a dotted key (`email.confirmation.subject`),
the msgstr the text with `{name}` placeholders filled by `str.format_map`. A key missing in a
language falls back to English, then to the key itself, so a forgotten translation shows up as a
readable key rather than an error in the middle of sending an email.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
#: Where a missing translation is looked for before giving up and showing the key.
FALLBACK_LOCALE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locales"

_TAG_SEPARATOR = re.compile(r"[-_]")
_MAX_LANGUAGE_RANGES = 32  # an Accept-Language header longer than this is noise, not preference


def normalise_locale(value: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The supported language a tag such as `fr`, `FR`, `fr-CA` or `en_GB` means, else `default`."""
    supported = _supported(value)
    if supported is not None:
        return supported
    return default if default in LOCALES else DEFAULT_LOCALE


def _supported(tag: str | None) -> str | None:
    primary = _TAG_SEPARATOR.split(tag.strip(), maxsplit=1)[0].lower() if tag else ""
    return primary if primary in LOCALES else None


def negotiate(accept_language: str | None, default: str) -> str:
    """The supported language an HTTP Accept-Language header prefers most, else `default`.

    Ties keep the header's order; `q=0` excludes a language; `*` stands for `default`.
    """
    fallback = normalise_locale(default)
    best: tuple[float, int, str] | None = None
    for position, item in enumerate((accept_language or "").split(",")[:_MAX_LANGUAGE_RANGES]):
        tag, _, params = item.partition(";")
        tag = tag.strip()
        weight = _quality(params)
        if not tag or weight <= 0:
            continue
        locale = fallback if tag == "*" else _supported(tag)
        if locale is None:
            continue
        candidate = (-weight, position, locale)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else fallback


def _quality(params: str) -> float:
    """The `q` of one language range: 1 when absent, 0 when unreadable (a broken range counts for nothing)."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return 0.0
            return weight if 0.0 <= weight <= 1.0 else 0.0
    return 1.0


class _KeepMissing(dict[str, Any]):
    """Format parameters that leave an unknown `{placeholder}` as it is instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalogs:
    """Every language's messages, keyed by dotted key; read once, then only looked up."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self._messages = {locale: dict(entries) for locale, entries in messages.items()}

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR) -> Catalogs:
        """Read `<locale>.po` for every supported locale; fuzzy and empty entries are left out, as gettext does.

        Raises:
            OSError: a catalog file is missing or unreadable.
        """
        messages: dict[str, dict[str, str]] = {}
        for locale in LOCALES:
            with (directory / f"{locale}.po").open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            messages[locale] = {
                message.id: message.string
                for message in catalog
                if isinstance(message.id, str)
                and message.id
                and isinstance(message.string, str)
                and message.string
                and not message.fuzzy
            }
        return cls(messages)

    def has(self, key: str, locale: str) -> bool:
        """Whether `locale` itself (without fallback) translates `key`."""
        return key in self._messages.get(locale, {})

    def keys(self, locale: str) -> frozenset[str]:
        """Every key `locale` translates."""
        return frozenset(self._messages.get(locale, {}))

    def translate(self, key: str, locale: str, /, **params: Any) -> str:
        """The text of `key` in `locale` (else English, else the key) with `params` filled in.

        A placeholder without a parameter stays as written, and a text that is not a valid format
        string is returned unformatted: a translator's slip must never stop an email. `key` and
        `locale` are positional-only so a text may have placeholders of those names too.
        """
        text = self._messages.get(normalise_locale(locale), {}).get(key)
        if text is None:
            text = self._messages.get(FALLBACK_LOCALE, {}).get(key, key)
        try:
            return text.format_map(_KeepMissing(params))
        except (ValueError, IndexError, KeyError, AttributeError, TypeError):
            return text


@functools.cache
def catalogs() -> Catalogs:
    """The catalogs of `LOCALE_DIR`, read on first use and shared by the process."""
    return Catalogs.load()


def translate(key: str, locale: str, /, **params: Any) -> str:
    """`Catalogs.translate` on the shared catalogs."""
    return catalogs().translate(key, locale, **params)
