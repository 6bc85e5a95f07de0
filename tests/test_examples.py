"""The examples are documentation: they must keep running and say what they claim."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize(
    "script", ["train_from_python.py", "compare_with_sklearn.py", "cross_validation.py"]
)
def test_example_runs(script):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    if script == "compare_with_sklearn.py":
        gap = float(result.stdout.split("scikit-learn: ")[1].split()[0])
        assert gap < 1e-4  # the coefficient tolerance against scikit-learn
    elif script == "cross_validation.py":
        passes = int(result.stdout.split(" passes for the whole grid")[0].split()[-1])
        assert passes <= 8  # 48 models: the summary pass, Newton's few, the scoring pass
        assert "covariance cluster" in result.stdout and "std err" in result.stdout
    else:
        assert "converged=True" in result.stdout
