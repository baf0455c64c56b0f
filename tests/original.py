"""The original lab's facts, as the tests use them.

The facts are described in docs/original/FACTS.md; their machine-readable
copy, docs/original/facts.json, is what this module loads.
"""

import json
from pathlib import Path

FACTS_FILE = (
    Path(__file__).resolve().parents[1] / 'docs' / 'original' / 'facts.json'
)
FACTS = json.loads(FACTS_FILE.read_text())

#: What print_valid_characters() printed (FACTS.md section 1).
CHARACTER_TABLE = FACTS['character_table']


def trainable_parameters(model):
    """``[(name, shape), ...]`` the notebook printed for ``model``."""
    return [
        (name, tuple(shape))
        for name, shape in FACTS[model]['trainable_parameters']
    ]


def printed_shapes(model):
    """The layer shapes the notebook printed for ``model``."""
    return [tuple(shape) for shape in FACTS[model]['shapes']]
