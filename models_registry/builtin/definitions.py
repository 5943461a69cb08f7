"""What modelhub knows about each built-in model, in code.

`models_registry.services.models_register_builtin` writes these into the
database. The fields split in two: code-owned ones (`entrypoint`,
`output_columns`, `execution_mode`) follow the code on every registration;
the rest only seed a new row, so an operator's edits in the admin survive.
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

SYNC, ASYNC = "SYNC", "ASYNC"


@dataclass(frozen=True)
class BuiltinModel:
    id: str
    title: str
    description: str
    entrypoint: str
    output_columns: tuple[str, ...]
    version: str
    execution_mode: str = SYNC
    image: str = "modelhub/builtin-models"
    k8s_resources: MappingProxyType[str, Any] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def resources(self) -> dict[str, dict[str, str]]:
        """A fresh, mutable copy of the default `k8s_resources`."""
        return {
            section: dict(amounts) for section, amounts in self.k8s_resources.items()
        }


RDKIT_DESCRIPTORS = BuiltinModel(
    id="rdkit-descriptors",
    title="RDKit molecular descriptors",
    description=(
        "Classic descriptors of a molecule computed by RDKit from its SMILES: "
        "molecular weight, Crippen logP, topological polar surface area, "
        "Lipinski hydrogen-bond donors and acceptors, and the QED drug-likeness "
        "score. A SMILES RDKit cannot parse gets an error in its own row."
    ),
    entrypoint="models_registry.builtin.rdkit_descriptors:predict",
    output_columns=(
        "molecular_weight",
        "logp",
        "tpsa",
        "h_bond_donors",
        "h_bond_acceptors",
        "qed",
    ),
    version="1.0.0",
    # Measured on a laptop: the server with RDKit loaded holds about 75 MiB
    # and computes a chunk of 100 drug-like inputs in about 0.2 s on one core.
    k8s_resources=MappingProxyType(
        {
            "requests": MappingProxyType({"cpu": "100m", "memory": "128Mi"}),
            "limits": MappingProxyType({"cpu": "1", "memory": "512Mi"}),
        }
    ),
)

BUILTIN_MODELS: tuple[BuiltinModel, ...] = (RDKIT_DESCRIPTORS,)
