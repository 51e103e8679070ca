"""The plugin surface: ``hub.connectors`` exports everything a connector needs, documented."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import hub.connectors as sdk
from hub.connectors import base, registry

CONNECTORS = Path(sdk.__file__).parent
SDK_MODULES = {
    "hub.bus",
    "hub.connectors.base",
    "hub.connectors.http",
    "hub.connectors.media",
    "hub.connectors.registry",
    "hub.errors",
    "hub.payloads",
    "hub.signing",
    "hub.timeline.content",
    "hub.timeline.model",
    "hub.timeline.quarantine",
    "hub.timeline.store",
}
SDK_FILES = ("base.py", "__init__.py", "http.py", "media.py", "registry.py")  # the SDK itself
INTERNAL_USES = {
    # The chat widget pages history with cursors the hub mints for its own frames.
    "chat/connector.py: hub.timeline.store.encode_cursor",
}


def own_doc(obj: object) -> str | None:
    if isinstance(obj, type):
        doc = obj.__dict__.get("__doc__")
        return doc if isinstance(doc, str) else None
    return inspect.getdoc(obj)


def test_every_exported_name_is_documented() -> None:
    undocumented = [
        name
        for name in sdk.__all__
        if not isinstance(getattr(sdk, name), str)
        and not (own_doc(getattr(sdk, name)) or "").strip()
    ]
    assert undocumented == []
    constants = [n for n in sdk.__all__ if isinstance(getattr(sdk, n), str)]
    assert sdk.__doc__ is not None
    assert all(c in sdk.__doc__ for c in constants)


def test_every_public_method_a_plugin_implements_or_calls_is_documented() -> None:
    for cls in (sdk.Connector, sdk.Registry, sdk.CheckpointStore, sdk.Signer):
        for name in vars(cls):
            if name.startswith("_") or not callable(getattr(cls, name)):
                continue
            assert inspect.getdoc(getattr(cls, name)), f"{cls.__name__}.{name} has no docstring"


def test_the_protocol_modules_export_nothing_the_sdk_leaves_out() -> None:
    assert set(base.__all__) | set(registry.__all__) <= set(sdk.__all__)


def sdk_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for every ``from hub… import name`` outside the file's own package."""
    own = ".".join(path.relative_to(CONNECTORS.parent.parent).with_suffix("").parts[:3])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hub"):
            if node.module.startswith(own):
                continue
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def test_built_in_connectors_need_nothing_the_sdk_does_not_export() -> None:
    """The surface is extracted from real use: every built-in connector (a plugin
    like any other) imports from hub only what ``hub.connectors`` exports."""
    outside: list[str] = []
    for path in sorted(CONNECTORS.rglob("*.py")):
        if path.parent == CONNECTORS and path.name in SDK_FILES:
            continue
        for module, name in sdk_imports(path):
            if module not in SDK_MODULES or name not in sdk.__all__:
                outside.append(f"{path.relative_to(CONNECTORS)}: {module}.{name}")
    assert sorted(set(outside) - INTERNAL_USES) == []


def test_the_guide_names_every_exported_name() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "connectors.md").read_text()
    assert [name for name in sdk.__all__ if f"`{name}`" not in guide] == []
