"""The report's jinja2 environment: templates and style sheet read from the package, every value autoescaped.

Templates live in ``colorvariants/report/templates/`` and the style sheet in ``report/static/report.css``
(package data, so an installed wheel carries them). Line breaks and indentation in a template are for its
reader, not the page: a line break next to a tag or a ``{{``/``{%`` delimiter disappears with the indentation
around it, and one inside running text becomes a single space (``compact_source``).

>>> render("curves.html.j2", charts=["<svg>", Markup("<svg></svg>")])
Markup('<div class="charts">&lt;svg&gt;<svg></svg></div>')
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from jinja2.ext import Extension
from markupsafe import Markup

PACKAGE = "colorvariants.report"
STYLESHEET = "static/report.css"
_BREAK_AT_MARKUP = re.compile(r"(?<=[>}])\s*\n\s*|\s*\n\s*(?=[<{])")
_BREAK_IN_TEXT = re.compile(r"\s*\n\s*")


def compact_source(source: str) -> str:
    """A template's source with its layout whitespace removed (see the module docstring).

    >>> compact_source("<p>\\n  one\\n  two\\n</p>\\n{% if x %}\\n  <b>{{ x }}</b>\\n{% endif %}\\n")
    '<p>one two</p>{% if x %}<b>{{ x }}</b>{% endif %}'
    """
    return _BREAK_IN_TEXT.sub(" ", _BREAK_AT_MARKUP.sub("", source)).strip()


class CompactWhitespace(Extension):
    """Applies ``compact_source`` to every template as it is loaded."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return compact_source(source)


@cache
def environment() -> jinja2.Environment:
    """The one environment (built on first use): package templates, autoescape on, undefined names an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=[CompactWhitespace],
    )


def render(template: str, **context: Any) -> Markup:
    """``templates/<template>`` rendered with ``context``, as markup another template can embed unescaped."""
    return Markup(environment().get_template(template).render(**context))


@cache
def stylesheet() -> Markup:
    """The report's CSS (``static/report.css``), inlined into the page so it stays one file."""
    return Markup(resources.files(PACKAGE).joinpath(STYLESHEET).read_text(encoding="utf-8"))
