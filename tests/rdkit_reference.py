"""RDKit's own descriptor values, to check the built-in model against.

Used by the model's tests, the embedded-stack smoke test and the end-to-end
benchmark, so all three compare with the same functions.
"""

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors


def rdkit_values(smiles: str) -> dict[str, float] | None:
    """Each output column computed by RDKit directly; None if it cannot parse."""
    molecule = Chem.MolFromSmiles(smiles)
    if molecule is None:
        return None
    return {
        "molecular_weight": Descriptors.MolWt(molecule),
        "logp": Crippen.MolLogP(molecule),
        "tpsa": rdMolDescriptors.CalcTPSA(molecule),
        "h_bond_donors": Lipinski.NumHDonors(molecule),
        "h_bond_acceptors": Lipinski.NumHAcceptors(molecule),
        "qed": QED.qed(molecule),
    }
