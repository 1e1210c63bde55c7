"""The layers and what each may import (ARCHITECTURE.md): the core is a plain library, the
frameworks stay in their own packages, and no function grows past a screen."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = {"dagster", "dagster_postgres", "dagster_graphql", "streamlit", "starlette", "uvicorn"}
OUTER_PACKAGES = {"audiomuse_pipelines", "audiomuse_app", "audiomuse_api", "audiomuse_run"}
MAX_FUNCTION_LINES = 80
LONG_FUNCTIONS_ALLOWED = ("audiomuse/store/migrations/", "audiomuse/analysis/convert_musicnn.py")


def _imports(path: Path) -> set[str]:
    """Every absolute module an import statement names, in full (``a.b.c``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def _offenders(package: str, forbidden, *, exclude: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """{file: the forbidden modules it imports} for every file of ``package``."""
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        if rel.startswith(exclude):
            continue
        bad = sorted(name for name in _imports(path) if forbidden(name))
        if bad:
            found[rel] = bad
    return found


def test_core_imports_no_framework_and_no_outer_package():
    assert _offenders("audiomuse", lambda m: m.split(".")[0] in FRAMEWORKS | OUTER_PACKAGES) == {}


def test_moved_modules_stay_out_of_the_core():
    """Launching processes, building test data and talking to Dagster's webserver are not the domain."""
    for gone in ("launcher.py", "samples.py", "orchestrator.py"):
        assert not (ROOT / "audiomuse" / gone).exists()


def test_store_does_not_import_the_providers():
    """The domain types live in audiomuse.media, which both the store and the providers import."""
    assert _offenders("audiomuse/store", lambda m: m.startswith("audiomuse.providers")) == {}


def test_tensorflow_stays_out_of_the_runtime():
    assert _offenders("audiomuse", lambda m: m.split(".")[0] == "tensorflow",
                      exclude=("audiomuse/analysis/convert_musicnn.py",)) == {}


def test_each_outer_package_imports_only_its_own_framework():
    allowed = {
        "audiomuse_pipelines": {"dagster", "dagster_postgres"},
        "audiomuse_app": {"streamlit"},
        "audiomuse_api": {"starlette", "uvicorn"},
        "audiomuse_run": set(),
    }
    for package, own in allowed.items():
        others = (FRAMEWORKS - own) | (OUTER_PACKAGES - {package})
        assert _offenders(package, lambda m, others=others: m.split(".")[0] in others) == {}, package


def test_the_layout_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom dagster import asset\nfrom audiomuse.providers import base\n")
    assert {"dagster", "audiomuse"} <= _top_level(_imports(bad))
    assert "audiomuse.providers.base" in _imports(bad)


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_function_longer_than_a_screen():
    long = {}
    for package in ("audiomuse", *sorted(OUTER_PACKAGES)):
        for path in (ROOT / package).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            if not rel.startswith(LONG_FUNCTIONS_ALLOWED) and (found := _long_functions(path)):
                long[rel] = found
    assert long == {}
