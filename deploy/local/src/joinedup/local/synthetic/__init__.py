"""A seeded synthetic UK-shaped population with ground truth, for identity evaluation and the demo city."""

from joinedup.local.synthetic.noise import NoiseLevel
from joinedup.local.synthetic.people import Address, TruePerson
from joinedup.local.synthetic.population import SyntheticPopulation, SyntheticRecord, generate_population

__all__ = [
    "Address",
    "NoiseLevel",
    "SyntheticPopulation",
    "SyntheticRecord",
    "TruePerson",
    "generate_population",
]
