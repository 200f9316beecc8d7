"""Mail templates (German and English), rendered with Jinja2: ``templates/<lang>/<kind>.{subject,txt,html}.j2``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.application.mails import RenderedMail

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LANGUAGES = ("de", "en")


class Templates:
    def __init__(self, root: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(root),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, kind: str, language: str, recipient: str, **data: Any) -> RenderedMail:
        lang = language if language in LANGUAGES else "de"
        ctx = {"recipient": recipient, **data}
        return RenderedMail(
            kind=kind,
            recipient=recipient,
            language=lang,
            subject=self._env.get_template(f"{lang}/{kind}.subject.j2").render(ctx).strip(),
            text=self._env.get_template(f"{lang}/{kind}.txt.j2").render(ctx),
            html=self._env.get_template(f"{lang}/{kind}.html.j2").render(ctx),
        )
