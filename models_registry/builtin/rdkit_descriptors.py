"""The `rdkit-descriptors` model: classic descriptors of a molecule.

Served by `python -m models_registry.serving --entrypoint
models_registry.builtin.rdkit_descriptors:predict`. Values are RDKit's own,
unrounded; a SMILES RDKit cannot read gets None everywhere and an `error`
for its row only, so one bad line never fails a request.
"""

from typing import Any

import rdkit
from rdkit import Chem, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

from models_registry.builtin.definitions import RDKIT_DESCRIPTORS

# RDKit writes a parse warning to stderr for every bad SMILES, which would
# flood the instance log with users' inputs; the row's error says it instead.
RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]

OUTPUT_COLUMNS = list(RDKIT_DESCRIPTORS.output_columns)
# Results are cached per version: an RDKit upgrade can change values, so it
# gives the model a new version.
VERSION = f"{RDKIT_DESCRIPTORS.version}+rdkit.{rdkit.__version__}"
CARD = {
    "title": RDKIT_DESCRIPTORS.title,
    "description": RDKIT_DESCRIPTORS.description,
    "input": "SMILES",
    "rdkit_version": rdkit.__version__,
}
PARSE_ERROR = "RDKit could not parse this SMILES."


def predict(inputs: list[str]) -> list[dict[str, Any]]:
    return [_describe(smiles) for smiles in inputs]


def _describe(smiles: str) -> dict[str, Any]:
    try:
        molecule = Chem.MolFromSmiles(smiles)
        # An empty string parses into a molecule with no atoms, which
        # describes no compound.
        if molecule is None or molecule.GetNumAtoms() == 0:
            return _unreadable()
        # RDKit's type stubs miss the functions its modules define at import.
        return {
            "molecular_weight": Descriptors.MolWt(molecule),  # type: ignore[attr-defined]
            "logp": Crippen.MolLogP(molecule),  # type: ignore[attr-defined]
            "tpsa": rdMolDescriptors.CalcTPSA(molecule),
            "h_bond_donors": Lipinski.NumHDonors(molecule),  # type: ignore[attr-defined]
            "h_bond_acceptors": Lipinski.NumHAcceptors(molecule),  # type: ignore[attr-defined]
            "qed": QED.qed(molecule),
            "error": None,
        }
    except Exception:
        return _unreadable()


def _unreadable() -> dict[str, Any]:
    return {**dict.fromkeys(OUTPUT_COLUMNS), "error": PARSE_ERROR}
