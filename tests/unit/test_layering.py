"""The knowledge layer imports nothing above it (issue 11, D11.1).

``her2cds.knowledge`` may import the standard library, third-party packages, itself, ``her2cds.errors``,
``her2cds._version`` and the enum vocabulary ``her2cds.model.enums`` (a leaf: it imports only the standard
library). Every import statement is checked — module level, inside functions and under ``TYPE_CHECKING`` —
so a lazy import of the therapy, rules, engine or adapter layers fails as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import her2cds

PACKAGE = Path(her2cds.__file__).resolve().parent
ALLOWED = ("her2cds.knowledge", "her2cds.errors", "her2cds._version", "her2cds.model.enums")


def _imported(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name == "her2cds":  # ``from her2cds import x`` imports the submodule x
                found.extend((node.lineno, f"her2cds.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, name))
    return found


def _violations(folder: Path, package: str, allowed: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        module = ".".join((package, *parts)).removesuffix(".__init__")
        for line, name in _imported(path, module):
            if name.split(".")[0] != "her2cds":
                continue
            if not any(name == ok or name.startswith(ok + ".") for ok in allowed):
                out.append(f"{path.relative_to(folder.parent)}:{line} imports {name}")
    return out


def test_the_knowledge_layer_imports_nothing_above_it() -> None:
    assert list((PACKAGE / "knowledge").rglob("*.py")), "the knowledge package was not found"
    assert _violations(PACKAGE / "knowledge", "her2cds.knowledge", ALLOWED) == []


def test_the_enum_vocabulary_it_uses_is_a_leaf() -> None:
    found = [name for _, name in _imported(PACKAGE / "model" / "enums.py", "her2cds.model.enums")]
    assert [name for name in found if name.startswith("her2cds")] == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from her2cds.therapy.knowledge import TherapyKnowledge\n", "her2cds.therapy.knowledge"),
        ("def f():\n    from her2cds.rules import ngs\n", "her2cds.rules"),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import her2cds.engine\n", "her2cds.engine"),
        ("from ..adapters import cli\n", "her2cds.adapters"),
        ("from her2cds import therapy\n", "her2cds.therapy"),
    ],
)
def test_the_check_catches_an_upward_import(tmp_path: Path, source: str, expected: str) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "planted.py").write_text(source, encoding="utf-8")
    (folder / "fine.py").write_text("from her2cds.errors import KnowledgeBaseError\nfrom . import planted\n")
    found = _violations(folder, "her2cds.knowledge", ALLOWED)
    assert len(found) == 1
    assert found[0].startswith("knowledge/planted.py:") and found[0].endswith(f"imports {expected}")
