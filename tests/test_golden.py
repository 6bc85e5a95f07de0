"""The same fits give the same bits: coefficients, intercepts, every history objective,
passes and iterations of the fixed cases in ``golden/cases.py``, compared exactly with
what ``golden/record.py`` wrote to ``golden/fits.json`` before the code was reorganised.

A difference here means the arithmetic changed; if that is intended, rerun the record
script and say why in the commit.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from cases import CASES

RECORDED = json.loads((Path(__file__).resolve().parent / "golden" / "fits.json").read_text())


def test_every_case_is_recorded():
    assert sorted(RECORDED) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_bits_as_recorded(client, tmp_path, name):
    assert CASES[name](client, tmp_path) == RECORDED[name]
