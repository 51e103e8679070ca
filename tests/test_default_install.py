"""`pip install .` is the whole product: every built-in channel, no extras to find out about."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from hub.connectors.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return _canonical(match.group(0))


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules imported in ``hub/`` → importing files (not the scaffold's templates,
    nor ``hub.testing``: the conformance kit runs under pytest, in a test environment)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "hub").rglob("*.py"):
        if "templates" in path.parts or path.parent.name == "testing":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "hub" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_module_the_hub_imports_comes_with_the_default_install() -> None:
    declared = {_requirement_name(r) for r in PROJECT["dependencies"]}

    # what the declared distributions bring along (uvicorn[standard] brings websockets, …)
    def closure(names: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            try:
                needs = requires(name) or []
            except PackageNotFoundError:  # a marker excludes it here (python_version < …)
                continue
            seen.add(name)
            for req in needs:
                if "extra ==" in req and "standard" not in req:
                    continue
                todo.append(_requirement_name(req))
        return seen

    installed = closure(declared)
    providers = packages_distributions()
    missing = {
        module: sorted(files)
        for module, files in _third_party_imports().items()
        if not {_canonical(d) for d in providers.get(module, [module])} & installed
    }
    assert missing == {}, f"imported but not in [project].dependencies: {missing}"


def test_no_extras_for_channels() -> None:
    extras = set(PROJECT.get("optional-dependencies", {}))
    channels = set(PROJECT["entry-points"]["omnihub.connectors"])
    assert extras & (channels | {"sms", "voice", "social"}) == set()


def test_every_built_in_connector_is_available() -> None:
    built_in = set(PROJECT["entry-points"]["omnihub.connectors"])
    registry = Registry.discover()
    assert {n: r for n, r in registry.disabled.items() if n in built_in} == {}
    assert built_in <= set(registry.available)
