"""The sandboxed Jinja renderer of ``prompt_templates/``."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from skill import startup_cache
from skill.data import data_path
from skill.errors import ConfigError, Kling3Error
from skill.prompt.text import norm_space, tidy

__all__ = ["TEMPLATES_DIR", "render"]


TEMPLATES_DIR = "prompt_templates"




def _sentence(value: Any) -> str:
    s = norm_space(str(value)).strip(" ,;")
    if not s:
        return ""
    s = s[0].upper() + s[1:]
    if s[-1] == "?" and '"' not in s:
        return s[:-1].rstrip() + "."  # a question to the tool ("... in the windows?") is a description
    if s.endswith(('."', '!"', '?"')):
        return s  # 'The ink reads: "... Margaret."': the quote's own mark ends the sentence
    return s if s[-1] in ".!?" else s + "."


def _env_for(template_dir: str | None) -> Any:
    return _env_cached(template_dir, _bundled_templates())


@functools.lru_cache(maxsize=1)
def _bundled_templates() -> str:
    return str(data_path(TEMPLATES_DIR))


# A hostile template could build a huge string; refuse operands that would.
_MAX_REPEAT = 10_000


@functools.lru_cache(maxsize=16)
def _env_cached(template_dir: str | None, bundled: str) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class _Env(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 64:
                raise SecurityError("exponent too large in a template")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > _MAX_REPEAT:
                        raise SecurityError("sequence repetition too large in a template")
            return super().call_binop(context, operator, left, right)

    loaders = [FileSystemLoader(template_dir)] if template_dir else []
    loaders.append(FileSystemLoader(bundled))
    env = _Env(
        loader=_InliningLoader(ChoiceLoader(loaders)),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        cache_size=64,
        # compiled code kept between processes, keyed by each template's source and this module's
        bytecode_cache=startup_cache.template_code_cache(_source_digest()),
    )
    env.filters["sentence"] = _sentence
    return env


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    import hashlib

    with open(__file__, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


_INCLUDE = re.compile(r"""\{%-?\s*include\s+(["'])([^"'\n]{1,200})\1\s*-?%\}""")


class _InliningLoader:
    """Wraps a Jinja loader and inlines static ``{% include "x.j2" %}`` tags at load time.

    Rendering an include costs a new context every time; inlining keeps the template files
    separate for the people who edit them at no cost per call. Each file is still parsed on its
    own first, so a syntax error names the file it is in, and a line map sends a runtime error
    in inlined text back to its own file.
    """

    max_depth = 8

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lines: dict[str, list[tuple[str, int]]] = {}

    def get_source(self, environment: Any, name: str, *, check: bool = True) -> tuple[str, str | None, Any]:
        text, filename, uptodate, owners = self._load(environment, name, (), check)
        if filename:
            # each line belongs to the file of its first non-blank character
            lines: list[tuple[str, int]] = []
            pos = 0
            for line in text.split("\n"):
                k = len(line) - len(line.lstrip())
                idx = min(pos + k, len(owners) - 1)
                lines.append(owners[idx] if owners else (filename, len(lines) + 1))
                pos += len(line) + 1
            self.lines[filename] = lines
        return text, filename, uptodate

    def _load(
        self, env: Any, name: str, stack: tuple[str, ...], check: bool = True
    ) -> tuple[str, str | None, Any, list[tuple[str, int]]]:
        """The source with static includes inlined, and the (file, line) each character comes from."""
        from jinja2 import TemplateSyntaxError

        if name in stack or len(stack) > self.max_depth:
            raise TemplateSyntaxError(f"include cycle or nesting too deep: {' -> '.join((*stack, name))}", 1, name)
        source, filename, uptodate = self.inner.get_source(env, name)
        if check:
            env.parse(source, name, filename)  # a syntax error names this very file
        where = filename or name
        out: list[str] = []
        owners: list[tuple[str, int]] = []
        line = 1

        def take(chunk: str) -> None:
            nonlocal line
            out.append(chunk)
            for ch in chunk:
                owners.append((where, line))
                if ch == "\n":
                    line += 1

        pos = 0
        for m in _INCLUDE.finditer(source):
            take(source[pos: m.start()])
            text, _f, _u, sub = self._load(env, m.group(2), (*stack, name), check)
            # fenced, so the included file's own whitespace control stays inside it
            fence = "{{ '' }}"
            out.append(fence + text + fence)
            first = sub[0] if sub else (where, line)
            owners.extend([first] * len(fence) + sub + [sub[-1] if sub else first] * len(fence))
            pos = m.end()
        take(source[pos:])
        return "".join(out), filename, uptodate, owners

    def load(self, environment: Any, name: str, globals: Any = None) -> Any:
        from jinja2.loaders import BaseLoader

        bcc = environment.bytecode_cache
        if bcc is not None:
            # code stored for exactly this inlined source compiled before: no file needs checking
            source, filename, uptodate = self.get_source(environment, name, check=False)
            code = bcc.get_bucket(environment, name, filename, source).code
            if code is not None:
                return environment.template_class.from_code(environment, code, globals or {}, uptodate)
        return BaseLoader.load(self, environment, name, globals)  # type: ignore[arg-type]


def _template_file(exc: BaseException, name: str, template_dir: str | None, env: Any = None) -> str:
    """The template file an error comes from: the syntax error's file, or the deepest template frame."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError) and (exc.filename or exc.name):
        return str(exc.filename or exc.name)
    if isinstance(exc, TemplateNotFound):
        return str(Path(template_dir) / str(exc.name)) if template_dir else str(exc.name)
    found, lineno = "", 0
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname.endswith(".j2") or (template_dir and fname.startswith(template_dir)):
            found, lineno = fname, tb.tb_lineno
        tb = tb.tb_next
    if found:
        loader = getattr(env, "loader", None)
        lines = loader.lines.get(found) if isinstance(loader, _InliningLoader) else None
        if lines and 0 < lineno <= len(lines):
            return lines[lineno - 1][0]
        return found
    return str(Path(template_dir) / name) if template_dir else name


def render(name: str, ctx: dict[str, Any], template_dir: str | None) -> str:
    env = _env_for(template_dir)
    try:
        out = env.get_template(name).render(ctx)
    except Kling3Error:
        raise
    except Exception as exc:
        where = _template_file(exc, name, template_dir, env)
        raise ConfigError(
            f"prompt template {where} failed: {type(exc).__name__}: {exc}",
            code="bad_template",
            details={"template": where},
        ) from None
    if not isinstance(out, str):  # pragma: no cover - jinja always returns str
        raise ConfigError(f"prompt template {name} did not render text", code="bad_template")
    return tidy(norm_space(out))
