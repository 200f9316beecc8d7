"""Mail templates (German and English), rendered with Jinja2: ``templates/<lang>/<kind>.{subject,txt,html}.j2``.

Money, numbers and dates go through the language's filters (``{{ total | money }}``, ``{{ expires_at | moment }}``),
never ``str()`` or ``format()`` in a template or a rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from contracts.limits import unsafe_character
from notifications.adapters.outbound.formats import SHOP_TIMEZONE, Formats

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str


class Templates:
    """The mails of every language; money, numbers and dates in them formatted for that language
    (:class:`~notifications.adapters.outbound.formats.Formats`: filters ``money``, ``number``, ``moment``,
    ``changes``)."""

    def __init__(self, root: Path = TEMPLATES, timezone: str = SHOP_TIMEZONE) -> None:
        self._envs = {lang: _environment(root, Formats(lang, timezone)) for lang in LANGUAGES}

    def render(self, kind: str, language: str | None, **data: Any) -> Rendered:
        lang = language if language in LANGUAGES else "de"
        env = self._envs[lang]
        data = {key: clean(value, key) for key, value in data.items()}
        return Rendered(
            language=lang,
            subject=one_line(env.get_template(f"{lang}/{kind}.subject.j2").render(data)),
            text=env.get_template(f"{lang}/{kind}.txt.j2").render(data),
            html=env.get_template(f"{lang}/{kind}.html.j2").render(data),
        )

    def subject(self, kind: str, language: str | None, **data: Any) -> str:
        """The subject alone, as :meth:`render` makes it (what the dispatcher keeps of a sent mail)."""
        lang = language if language in LANGUAGES else "de"
        data = {key: clean(value, key) for key, value in data.items()}
        return one_line(self._envs[lang].get_template(f"{lang}/{kind}.subject.j2").render(data))

    def render_digest(self, language: str | None, items: list[Rendered], **data: Any) -> Rendered:
        """The daily digest (ADR 0027): ``items`` are the mails it collects, each rendered whole (subject, text and
        HTML as :meth:`render` made them, so nothing of them is lost) in the digest's language."""
        lang = language if language in LANGUAGES else "de"
        env = self._envs[lang]
        data = {key: clean(value, key) for key, value in data.items()}
        # each item's HTML was rendered (and escaped) by its own template: it is inserted as it is
        parts = [{"subject": i.subject, "text": i.text, "html": Markup(i.html)} for i in items]  # noqa: S704
        return Rendered(
            language=lang,
            subject=one_line(env.get_template(f"{lang}/digest.subject.j2").render(data, items=parts)),
            text=env.get_template(f"{lang}/digest.txt.j2").render(data, items=parts),
            html=env.get_template(f"{lang}/digest.html.j2").render(data, items=parts),
        )


def _environment(root: Path, formats: Formats) -> Environment:
    env = Environment(
        loader=FileSystemLoader(root),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(formats.filters())
    return env


# Fields whose text is the writer's own words over several lines (the conversation of an order); every other text
# is one line: a line break in a reference or a name must not become a line of the mail that seems ours.
MULTILINE_FIELDS = ("comment", "text", "message")


def one_line(value: str) -> str:
    """``value`` without control or bidi-formatting characters (each becomes a space), whitespace collapsed."""
    return " ".join("".join(" " if unsafe_character(ch) else ch for ch in value).split())


def clean(value: Any, key: str = "") -> Any:
    """What a template may show of ``value``: texts without control or bidi-formatting characters (line breaks and
    tabs kept only in the multi-line fields), recursively through lists and dicts."""
    if isinstance(value, str):
        if any(part in key for part in MULTILINE_FIELDS):
            return "".join(" " if unsafe_character(ch, multiline=True) else ch for ch in value)
        return one_line(value)
    if isinstance(value, dict):
        return {k: clean(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v, key) for v in value]
    return value
