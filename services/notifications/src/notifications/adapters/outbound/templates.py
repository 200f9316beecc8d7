"""Mail templates (German and English), rendered with Jinja2: ``templates/<lang>/<kind>.{subject,txt,html}.j2``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str


class Templates:
    def __init__(self, root: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(root),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._env.filters["money"] = _money

    def render(self, kind: str, language: str | None, **data: Any) -> Rendered:
        lang = language if language in LANGUAGES else "de"
        return Rendered(
            language=lang,
            subject=" ".join(self._env.get_template(f"{lang}/{kind}.subject.j2").render(data).split()),
            text=self._env.get_template(f"{lang}/{kind}.txt.j2").render(data),
            html=self._env.get_template(f"{lang}/{kind}.html.j2").render(data),
        )


def _money(value: Any) -> str:
    """``{"amount": "1234.5", "currency": "EUR"}`` → ``1234.50 EUR``."""
    if isinstance(value, dict):
        try:
            return f"{float(value['amount']):,.2f} {value['currency']}"
        except (KeyError, ValueError):
            return str(value)
    return str(value)
