"""The stages stay visible in the imports: no cycle, nothing reaches up, no private name crosses.

Layers, lowest first: the base (errors, settings, data, money, the text toolkit), the request and
the catalog, then stage 1 (intent, over the rule book), stage 2 (routing), stage 3 (prompt),
planning, stage 4 (execution, media, testing), and the surfaces (cli, tools, mcp_server, the
package face). A module may import its own layer or any layer below it, never above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SKILL = Path(__file__).resolve().parents[1] / "skill"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("skill._version", "skill.errors", "skill.money", "skill.fsutil", "skill.filenames", "skill.settings", "skill.data", "skill.startup_cache",
     "skill.textmatch", "skill.respell"),
    ("skill.request", "skill.catalog"),
    ("skill.rulebook",),
    ("skill.intent",),
    ("skill.routing",),
    ("skill.prompt",),
    ("skill.planning",),
    ("skill.execution", "skill.media", "skill.testing"),
    ("skill.tools", "skill.tool_results", "skill.mcp_prompts", "skill.gallery", "skill.mcp_server", "skill.cli", "skill"),
)


def _module_name(path: Path) -> str:
    parts = ["skill", *path.relative_to(SKILL).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SKILL.rglob("*.py")}


def _layer(module: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > best[1]):
                best = (i, len(name))
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best[0]


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import, lazy ones too."""
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "skill")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "skill":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                if sub in MODULES:  # `from skill import settings` takes a module, not a name
                    out.append((sub, None, node.lineno))
                else:
                    out.append((node.module, a.name, node.lineno))
    return out


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        _layer(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_reaches_a_later_stage(name: str) -> None:
    own = _layer(name)
    for target, _taken, line in _imports(MODULES[name]):
        assert _layer(target) <= own, f"{name}:{line} imports {target}, a later stage"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_crosses_modules(name: str) -> None:
    for target, taken, line in _imports(MODULES[name]):
        if taken is not None and taken.startswith("_") and taken != "__version__":
            pytest.fail(f"{name}:{line} imports the private name {taken} of {target}")


def test_no_import_cycle_at_module_level() -> None:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("skill"):
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    top.add(sub if sub in MODULES else node.module)
            elif isinstance(node, ast.Import):
                top.update(a.name for a in node.names if a.name.startswith("skill"))
        graph[name] = {t for t in top if t in MODULES and t != name}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
