"""The clustering package's modules import their siblings, never the package itself (no import cycle)."""

import ast
from pathlib import Path

import audiomuse.clustering

PACKAGE = Path(audiomuse.clustering.__file__).parent


def _imports_the_package(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "audiomuse.clustering":
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:  # from . import x
            return True
        if isinstance(node, ast.Import) and any(a.name == "audiomuse.clustering" for a in node.names):
            return True
    return False


def test_no_module_imports_its_own_package():
    modules = [p for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(modules) >= 8
    assert [p.name for p in modules if _imports_the_package(p)] == []


def test_the_check_would_catch_the_old_cycle(tmp_path):
    old = tmp_path / "old.py"
    old.write_text("from audiomuse.clustering import naming\n")
    assert _imports_the_package(old)
