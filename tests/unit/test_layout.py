"""The layout's own rules (issue 20) beside the layers contract that `make lint` checks:
one name per concept, and benchmarks that stand on their own."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (
    "finsent",
    "dashboard",
    "sources",
    "streams",
    "alerts",
    "classifier",
    "storage",
    "core",
    "api",
)


def modules(*packages: str) -> list[Path]:
    found = [p for package in packages for p in (ROOT / package).rglob("*.py")]
    assert found, packages
    return found


def test_no_two_classes_of_the_product_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in modules(*PRODUCT):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                where[node.name].append(str(path.relative_to(ROOT)))
    assert len(where) > 100  # the walk found the product's classes
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_benchmarks_import_no_test_module() -> None:
    imported = set()
    for path in modules("bench", "testkit"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add((path.name, node.module.split(".")[0]))
            elif isinstance(node, ast.Import):
                imported.update((path.name, alias.name.split(".")[0]) for alias in node.names)
    assert any(top == "testkit" for _, top in imported)  # what they share instead
    assert sorted(name for name, top in imported if top == "tests") == []
