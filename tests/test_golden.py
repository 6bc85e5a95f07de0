"""The same fits give the same bits: coefficients, intercepts, every history objective,
passes and iterations of the fixed cases in ``golden/cases.py``, compared exactly with
what ``golden/record.py`` wrote to ``golden/fits.json`` before the code was reorganised.

Exactly means with the NumPy and BLAS the record was made with (``fits.json`` names
them): another build may round a matrix product differently in the last bit, and then
the floats are compared to 1e-9 relative and the passes and iterations exactly.
A difference here means the arithmetic changed; if that is intended, rerun the record
script and say why in the commit.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from cases import CASES, environment

RECORD = json.loads((Path(__file__).resolve().parent / "golden" / "fits.json").read_text())
RECORDED = RECORD["fits"]
SAME_LIBRARIES = RECORD["environment"] == environment()


def test_every_case_is_recorded():
    assert sorted(RECORDED) == sorted(CASES)


def _floats(bits: dict) -> dict[str, np.ndarray]:
    return {
        key: np.array([float.fromhex(v) for v in values])
        for key, values in bits.items()
        if isinstance(values, list) and values and isinstance(values[0], str)
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_bits_as_recorded(client, tmp_path, name):
    found, recorded = CASES[name](client, tmp_path), RECORDED[name]
    if SAME_LIBRARIES:
        assert found == recorded
        return
    exact = {k: v for k, v in found.items() if k not in _floats(found)}
    assert exact == {k: v for k, v in recorded.items() if k not in _floats(recorded)}
    for key, values in _floats(found).items():
        np.testing.assert_allclose(values, _floats(recorded)[key], rtol=1e-9, atol=0, err_msg=key)
