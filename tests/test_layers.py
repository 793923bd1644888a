"""The import graph: no package imports one above it, and rag's records and text utilities
import nothing of the answer path.

Layers, bottom to top: ``rag`` (records, store, answer path) → ``ingest`` → ``evals`` / ``ui``
→ ``newsrag`` (the command, the only package that knows every other). Imports inside functions
count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["rag", "ingest", "evals", "ui", "newsrag", "benchmarks"]
MAY_IMPORT = {
    "rag": {"rag"},
    "ingest": {"rag", "ingest"},
    "evals": {"rag", "ingest", "evals"},
    "ui": {"rag", "ingest", "ui"},
    "newsrag": {"rag", "ingest", "evals", "ui", "newsrag"},
    "benchmarks": {"rag", "ingest", "evals", "benchmarks"},
}
# rag's bottom: records, errors, settings and text utilities, which everything else builds on
RAG_BASE = {"rag.errors", "rag.types", "rag.settings", "rag.offline", "rag.text"}


def project_imports(path: Path) -> set[str]:
    """Dotted names of the project's modules imported anywhere in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] in PACKAGES}


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.append((package, path))
    return found


@pytest.mark.parametrize("package,path", modules(),
                         ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else v)
def test_no_module_imports_a_package_above_its_own(package, path):
    upward = sorted(n for n in project_imports(path) if n.split(".")[0] not in MAY_IMPORT[package])
    assert upward == [], f"{path.relative_to(ROOT)} imports {upward}"


def test_rag_base_modules_import_only_the_base():
    for name in sorted(RAG_BASE):
        path = ROOT / (name.replace(".", "/") + ".py")
        if not path.exists():
            continue
        imported = {n for n in project_imports(path) if n.startswith("rag.")}
        above = sorted(n for n in imported if not any(n == b or n.startswith(b + ".") for b in RAG_BASE))
        assert above == [], f"{name} imports {above}"


def test_the_check_sees_function_level_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from ingest.loaders import load_file\n    import ui.app\n", encoding="utf-8")
    assert project_imports(sample) >= {"ingest.loaders", "ui.app"}
