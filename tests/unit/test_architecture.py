"""The import rules of DESIGN.md as a contract: import-linter checks the whole tree (``[tool.importlinter]``
in pyproject.toml) and fails on one forbidden import, shown here on a copy of the tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` on the packages under ``tree`` with the project's contracts."""
    return subprocess.run([str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"], cwd=tree,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                          capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_import_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and " kept" in result.stdout


def _python_only(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if not (Path(folder, n).is_dir() and n != "__pycache__") and not n.endswith(".py")}


def test_a_service_importing_http_breaks_the_contract(tmp_path: Path) -> None:
    for package in ("api", "matching", "referentiels"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_python_only)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint(tmp_path).returncode == 0  # the copy alone keeps the contracts
    (tmp_path / "api" / "services" / "leaky.py").write_text(
        '"""A service that answers HTTP problems itself: what the layers forbid."""\n\n'
        "from api.http.problems import Problem\n")
    result = lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "api.services.leaky -> api.http.problems" in result.stdout
