"""The `make run` path: SQLite, the filesystem broker and the local agent.

Everything else in the suite runs on PostgreSQL and Redis; this test starts
the embedded stack for real, as `make run` does, submits a small file with
the command line and checks the results against RDKit's own values.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rdkit_reference import rdkit_values
from tests.stack import ROOT, running_stack, stack_logs

SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "not-a-molecule",
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "CCO",
]


def _embedded_environment(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DATABASE_SCHEMA"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="true",
        MODELHUB_DATA_DIR=str(data_dir),
        LOG_LEVEL="INFO",
    )
    return env


def _manage(env: dict[str, str], *arguments: str, timeout: float = 180):
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_the_embedded_stack_computes_a_small_file(tmp_path):
    env = _embedded_environment(tmp_path / "data")
    inputs = tmp_path / "inputs.csv"
    inputs.write_text("smiles\n" + "\n".join(SMILES) + "\n")
    output = tmp_path / "out.csv"

    assert _manage(env, "migrate", "--noinput", "-v0").returncode == 0
    assert _manage(env, "register_models").returncode == 0

    with running_stack(env, tmp_path / "logs"):
        result = _manage(
            env, "submit", "rdkit-descriptors", str(inputs), "--wait",
            "--output", str(output), "--timeout", "150",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr + stack_logs(tmp_path / "logs")

    assert (tmp_path / "data" / "modelhub.sqlite3").exists()
    rows = list(csv.DictReader(output.open()))
    assert [row["input"] for row in rows] == SMILES
    assert list(rows[0]) == [
        "input", "molecular_weight", "logp", "tpsa",
        "h_bond_donors", "h_bond_acceptors", "qed", "error",
    ]  # fmt: skip
    for row, smiles in zip(rows, SMILES, strict=True):
        expected = rdkit_values(smiles)
        if expected is None:
            assert row["error"]
            assert row["molecular_weight"] == ""
            continue
        assert row["error"] == ""
        for name, value in expected.items():
            assert float(row[name]) == pytest.approx(value, abs=1e-6)
