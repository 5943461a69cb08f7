"""The rdkit-descriptors built-in model, against RDKit's own functions."""

import csv
import threading
from pathlib import Path

import httpx
import pytest
import rdkit
from django.conf import settings
from rdkit import Chem
from rdkit.Chem import Descriptors

from models_registry.builtin import rdkit_descriptors
from models_registry.builtin.definitions import RDKIT_DESCRIPTORS
from models_registry.serving.app import load_app
from models_registry.serving.server import make_server
from tests.rdkit_reference import rdkit_values

COLUMNS = [
    "molecular_weight",
    "logp",
    "tpsa",
    "h_bond_donors",
    "h_bond_acceptors",
    "qed",
]
EXAMPLES = Path(settings.BASE_DIR) / "examples" / "drugs.csv"
SHARED_SMILES = Path(settings.BASE_DIR).parent / "shared" / "data" / "smiles_100.csv"


def example_rows() -> list[dict[str, str]]:
    with EXAMPLES.open(newline="") as file:
        return list(csv.DictReader(file))


def assert_matches_rdkit(smiles_list, records):
    assert len(records) == len(smiles_list)
    for smiles, record in zip(smiles_list, records, strict=True):
        assert record["error"] is None, smiles
        expected = rdkit_values(smiles)
        for column in COLUMNS:
            assert record[column] == pytest.approx(expected[column], abs=1e-6), (
                smiles,
                column,
            )


def test_it_declares_its_columns_in_order():
    assert rdkit_descriptors.OUTPUT_COLUMNS == COLUMNS
    assert list(RDKIT_DESCRIPTORS.output_columns) == COLUMNS
    assert list(rdkit_descriptors.predict(["CCO"])[0]) == [*COLUMNS, "error"]


def test_it_gives_known_values_for_aspirin():
    [aspirin] = rdkit_descriptors.predict(["CC(=O)Oc1ccccc1C(=O)O"])

    assert aspirin["molecular_weight"] == pytest.approx(180.159, abs=1e-3)
    assert aspirin["logp"] == pytest.approx(1.3101, abs=1e-4)
    assert aspirin["tpsa"] == pytest.approx(63.6, abs=1e-6)
    assert aspirin["h_bond_donors"] == 1
    assert aspirin["h_bond_acceptors"] == 3
    assert aspirin["qed"] == pytest.approx(0.5501, abs=1e-4)


def test_it_keeps_full_precision():
    [aspirin] = rdkit_descriptors.predict(["CC(=O)Oc1ccccc1C(=O)O"])

    assert aspirin["molecular_weight"] == Descriptors.MolWt(
        Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    )
    assert aspirin["qed"] != round(aspirin["qed"], 6)


def test_it_matches_rdkit_on_the_example_drugs():
    rows = [row for row in example_rows() if not row["name"].startswith("invalid")]

    records = rdkit_descriptors.predict([row["smiles"] for row in rows])

    assert len(rows) == 12
    assert_matches_rdkit([row["smiles"] for row in rows], records)


@pytest.mark.skipif(
    not SHARED_SMILES.exists(), reason="the shared 100 SMILES are absent"
)
def test_it_matches_rdkit_on_the_shared_100_smiles_through_the_server():
    smiles = [
        line.strip() for line in SHARED_SMILES.read_text().splitlines() if line.strip()
    ]
    server = make_server(
        load_app(entrypoint=RDKIT_DESCRIPTORS.entrypoint, model_id=RDKIT_DESCRIPTORS.id)
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        response = httpx.post(
            f"http://127.0.0.1:{server.port}/run",
            params={"orient": "records"},
            json=smiles,
            timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
        server.app.close()

    assert len(smiles) == 100
    assert response.status_code == 200
    assert_matches_rdkit(smiles, response.json())


@pytest.mark.parametrize(
    "smiles", ["C1CC(C(", "not a smiles", "", "   ", "C(C)(C)(C)(C)C", "c1cccc1"]
)
def test_it_gives_an_unreadable_smiles_an_error_in_its_own_row(smiles):
    records = rdkit_descriptors.predict(["CCO", smiles, "O"])

    assert records[1] == {
        **dict.fromkeys(COLUMNS),
        "error": "RDKit could not parse this SMILES.",
    }
    assert records[0]["error"] is None
    assert records[0]["molecular_weight"] == pytest.approx(46.069, abs=1e-3)
    assert records[2]["error"] is None


def test_it_gives_the_invalid_example_row_an_error():
    [invalid] = [row for row in example_rows() if row["name"].startswith("invalid")]

    [record] = rdkit_descriptors.predict([invalid["smiles"]])

    assert record["error"] == "RDKit could not parse this SMILES."


def test_it_keeps_rdkits_own_parse_messages_off_stderr(capfd):
    rdkit_descriptors.predict(["C1CC(C(", "c1cccc1"])

    assert capfd.readouterr().err == ""


def test_it_reports_a_version_that_follows_rdkit():
    assert (
        f"{RDKIT_DESCRIPTORS.version}+rdkit.{rdkit.__version__}"
        == rdkit_descriptors.VERSION
    )
