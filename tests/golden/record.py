"""Write ``fits.json``: the exact bits of every case in ``cases.py``, on a fresh cluster
shaped like the test suite's (2 worker processes, 1 thread each).

    python tests/golden/record.py

Run it only when a change of the numbers is intended, and say why in the commit.
"""

import json
import logging
import sys
import tempfile
from pathlib import Path

from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import CASES, environment

if __name__ == "__main__":
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        found = {}
        for name, case in CASES.items():
            with tempfile.TemporaryDirectory() as tmp:
                found[name] = case(client, tmp)
            print(name, found[name]["n_passes"], "passes", flush=True)
    target = Path(__file__).resolve().parent / "fits.json"
    recorded = {"environment": environment(), "fits": found}
    target.write_text(json.dumps(recorded, indent=1) + "\n")
    print(f"wrote {target}")
