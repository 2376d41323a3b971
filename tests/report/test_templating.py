"""The report's jinja2 environment: layout whitespace dropped, values autoescaped, files shipped as package data."""

from __future__ import annotations

from colorvariants.report.templating import compact_source, environment, render, stylesheet


class TestCompactSource:
    def test_breaks_next_to_markup_vanish(self) -> None:
        source = "<p>\n  <b>{{ x }}</b>\n  {% if y %}\n    <i>y</i>\n  {% endif %}\n</p>\n"
        assert compact_source(source) == "<p><b>{{ x }}</b>{% if y %}<i>y</i>{% endif %}</p>"

    def test_breaks_inside_text_become_one_space(self) -> None:
        assert compact_source("<p>one line\n    wraps here\n\n  and here.</p>") == "<p>one line wraps here and here.</p>"

    def test_spaces_within_a_line_stay(self) -> None:
        assert compact_source("{{ a }} · {{ b }}{% if c %} <b>c</b>{% endif %}") == \
            "{{ a }} · {{ b }}{% if c %} <b>c</b>{% endif %}"


def test_values_are_escaped_and_markup_is_not() -> None:
    template = environment().from_string("<td>{{ text }}</td>{{ chart }}")
    html = template.render(text="<script>&", chart=render("curves.html.j2", charts=["<svg>"]))
    assert html == "<td>&lt;script&gt;&amp;</td><div class=\"charts\">&lt;svg&gt;</div>"


def test_every_template_and_the_stylesheet_load_from_the_package() -> None:
    names = environment().list_templates()
    assert {"page.html.j2", "metrics.html.j2", "gallery.html.j2", "groups.html.j2"} <= set(names)
    for name in names:
        environment().get_template(name)  # parses
    css = stylesheet()
    assert css.startswith(":root{") and '.tile.hit::after{content:"\\2713"' in css
