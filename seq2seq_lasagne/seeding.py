"""Seeds: one integer gives every random stream of a run.

A run draws from three independent generators, so that changing one (say,
the validation set's size) does not change the others: the initial weights,
the validation set, and the training batches.
"""

import numpy as np

__all__ = ['seeded_rngs', 'STREAMS']

STREAMS = ('init', 'validation', 'batches')


def seeded_rngs(seed):
    """Independent generators for weights, validation set and batches.

    Parameters
    ----------
    seed : int

    Returns
    -------
    dict of numpy.random.RandomState
        Keys ``'init'``, ``'validation'``, ``'batches'``.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {
        name: np.random.RandomState(child.generate_state(4))
        for name, child in zip(STREAMS, children)
    }
