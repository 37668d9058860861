"""Compiled templates are kept between runs in the user's cache folder, recompiled when a
template changes, and the cache steps aside silently where its folder cannot be written."""

from __future__ import annotations

import jinja2
import pytest

from symgrad.render.environment import TemplateCache, template_cache


def environment_at(folder, cache) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), bytecode_cache=cache)


@pytest.fixture
def templates(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "t.j2").write_text("one {{ x }}")
    return folder


def test_a_second_run_loads_the_compiled_template_instead_of_compiling(templates, tmp_path, monkeypatch):
    cache = template_cache()
    assert isinstance(cache, TemplateCache)
    assert environment_at(templates, cache).get_template("t.j2").render(x=1) == "one 1"
    assert list((tmp_path / "cache" / "symgrad" / "templates").iterdir())
    again = environment_at(templates, template_cache())
    monkeypatch.setattr(again, "compile", lambda *a, **k: pytest.fail("compiled again"))
    assert again.get_template("t.j2").render(x=2) == "one 2"


def test_a_changed_template_is_compiled_again(templates):
    environment_at(templates, template_cache()).get_template("t.j2").render(x=1)
    (templates / "t.j2").write_text("two {{ x }}")
    assert environment_at(templates, template_cache()).get_template("t.j2").render(x=1) == "two 1"


def test_autoescaped_templates_are_kept_apart(templates):
    (templates / "t.j2").write_text("{{ x }}")
    plain = environment_at(templates, template_cache())
    assert plain.overlay(autoescape=True, bytecode_cache=template_cache(escaped=True)) \
        .get_template("t.j2").render(x="<b>") == "&lt;b&gt;"
    assert environment_at(templates, template_cache()).get_template("t.j2").render(x="<b>") == "<b>"


def test_no_cache_where_the_folder_cannot_be_made(tmp_path, monkeypatch):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert template_cache() is None


def test_a_damaged_cache_file_is_compiled_again(templates, tmp_path):
    environment_at(templates, template_cache()).get_template("t.j2").render(x=1)
    for f in (tmp_path / "cache" / "symgrad" / "templates").iterdir():
        f.write_bytes(f.read_bytes()[:40])
    assert environment_at(templates, template_cache()).get_template("t.j2").render(x=3) == "one 3"
