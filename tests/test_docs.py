"""The README's and the docs' snippets run as written, and their links lead somewhere.

The command blocks run in a fresh folder holding a copy of ``configs/``, on the session
cluster (``DASKLR_SCHEDULER``), each line through bash; the Python example runs as a
script on generated Parquet data, with the embedded cluster it starts itself.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dasklr.data.synthetic import make_parquet_dataset

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.S)


def run_lines(block: str, folder: Path, scheduler: str) -> None:
    """Each command of a bash block, as written (comments and all), in ``folder``."""
    env = {
        **os.environ,
        "DASKLR_SCHEDULER": scheduler,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    for line in block.strip().splitlines():
        done = subprocess.run(
            ["bash", "-c", line], cwd=folder, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"


@pytest.fixture
def workdir(tmp_path):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    return tmp_path


@pytest.mark.slow
def test_the_command_line_blocks_run_as_written(workdir, cluster):
    """The README's five commands, then the nightly job and the export of docs/cli.md, in
    one folder."""
    readme = next(b for b in blocks(ROOT / "README.md", "bash") if "dasklr evaluate" in b)
    nightly = next(b for b in blocks(ROOT / "docs" / "cli.md", "bash") if "model-nightly" in b)
    export = next(b for b in blocks(ROOT / "docs" / "cli.md", "bash") if "dasklr export" in b)
    run_lines(readme, workdir, cluster.scheduler_address)
    run_lines(nightly, workdir, cluster.scheduler_address)
    run_lines(export, workdir, cluster.scheduler_address)
    assert (workdir / "dasklr-quickstart" / "model.onnx").stat().st_size > 0
    assert (workdir / "dasklr-quickstart" / "model-nightly" / "metadata.json").exists()
    assert (workdir / "dasklr-quickstart" / "scores" / "_manifest.json").exists()


@pytest.mark.slow
def test_the_readme_python_example_runs_as_a_script(tmp_path):
    [example] = [b for b in blocks(ROOT / "README.md", "python") if "read_parquet" in b]
    make_parquet_dataset(tmp_path / "data", 20_000, 4, n_files=2)
    (tmp_path / "example.py").write_text(example)
    done = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model" / "metadata.json").exists()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_lead_to_files_that_exist(page):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to {target}"
