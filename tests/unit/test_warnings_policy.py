"""The warnings policy of pyproject.toml: a DeprecationWarning raised from this project's own code
fails the test that meets it; one raised elsewhere only warns."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent('''
    import warnings


    def warn_from(module):
        # as a call from inside ``module`` would: the filters match the module the warning is attributed to
        warnings.warn_explicit("this is deprecated", DeprecationWarning, module.replace(".", "/") + ".py", 1,
                               module=module)


    def test_from_the_api():
        warn_from("api.services.state")


    def test_from_matching():
        warn_from("matching")


    def test_from_a_library():
        warn_from("somelibrary.module")


    def test_from_a_module_named_like_ours():
        warn_from("apiary")
''')


def test_filterwarnings_holds_the_rule():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert any(f.startswith("error::DeprecationWarning:(api|matching|referentiels|benchmarks)")
               for f in options["filterwarnings"])


def test_a_deprecation_from_our_code_fails_a_test(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    run = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
                          "-p", "no:cacheprovider", "-q", "-rA", str(probe)],
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=120)
    out = run.stdout
    assert run.returncode == 1, out
    assert "FAILED test_probe.py::test_from_the_api" in out and "FAILED test_probe.py::test_from_matching" in out
    assert "PASSED test_probe.py::test_from_a_library" in out
    assert "PASSED test_probe.py::test_from_a_module_named_like_ours" in out
    assert "2 failed, 2 passed" in out
