"""The core must stay framework-free: Dagster and Streamlit only in their own packages."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_framework():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_modules(p) & {"dagster", "streamlit", "dagster_postgres"})
        for p in (ROOT / "audiomuse").rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_layout_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom dagster import asset\n")
    assert "dagster" in _imported_modules(bad)


def test_tensorflow_stays_out_of_the_runtime():
    runtime = [p for p in (ROOT / "audiomuse").rglob("*.py") if p.name != "convert_musicnn.py"]
    assert not [str(p) for p in runtime if "tensorflow" in _imported_modules(p)]


def test_api_package_stays_thin_and_the_core_free_of_web_frameworks():
    """Starlette/uvicorn only in audiomuse_api; the api has no Dagster or Streamlit."""
    web = {"starlette", "uvicorn"}
    core = {str(p.relative_to(ROOT)): sorted(_imported_modules(p) & web) for p in (ROOT / "audiomuse").rglob("*.py")}
    assert {k: v for k, v in core.items() if v} == {}
    api = {str(p.relative_to(ROOT)): sorted(_imported_modules(p) & {"dagster", "streamlit", "audiomuse_pipelines",
                                                                  "audiomuse_app"})
           for p in (ROOT / "audiomuse_api").rglob("*.py")}
    assert {k: v for k, v in api.items() if v} == {}
