"""The agent view's one translation layer: gettext catalogs read with Babel.

Every text the agent view shows is an English ``msgid`` — ``{{ _("Inbox") }}``
in templates (Jinja's ``i18n`` extension, new-style: ``%(name)s`` placeholders,
autoescaped), :func:`gettext` in Python, and the strings the page's script
needs from ``data-strings`` on ``<body>``. A language is a catalog
``hub/agent/locale/<lang>/LC_MESSAGES/messages.po`` (German ships as the
second); English needs none. The language of a page is the best match of the
browser's ``Accept-Language`` among :data:`LANGUAGES`.

Add a language: copy ``de``'s catalog to ``<lang>``, translate every
``msgstr`` (``tests/agent/test_i18n.py`` fails on a missing one).
"""

from __future__ import annotations

import contextvars
import gettext as stdlib_gettext
import io
from functools import cache
from pathlib import Path

import jinja2
from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "gettext",
    "install",
    "language_for",
    "ngettext",
    "reset",
    "use",
]

LOCALE_DIR = Path(__file__).with_name("locale")
DEFAULT = "en"
LANGUAGES = (DEFAULT, *sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir()))

_current: contextvars.ContextVar[str] = contextvars.ContextVar("agent_language", default=DEFAULT)


@cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The catalog for ``language`` (English: the identity)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not path.is_file():
        return stdlib_gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return stdlib_gettext.GNUTranslations(compiled)


def language_for(accept_language: str | None) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header."""
    wanted: list[tuple[float, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            wanted.append((-quality + i * 1e-6, tag.strip()))
    for _, tag in sorted(wanted):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LANGUAGES:
            return language
    return DEFAULT


def use(language: str) -> contextvars.Token[str]:
    """Render what follows (in this task) in ``language``."""
    return _current.set(language if language in LANGUAGES else DEFAULT)


def reset(token: contextvars.Token[str]) -> None:
    """Back to the language before :func:`use`."""
    _current.reset(token)


def current() -> str:
    """The language being rendered."""
    return _current.get()


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; translate it where shown."""
    return message


def gettext(message: str) -> str:
    """``message`` in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in the current language."""
    return translations(_current.get()).ngettext(singular, plural, n)


def install(env: jinja2.Environment) -> None:
    """Give ``env`` the ``i18n`` extension bound to the current language."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
