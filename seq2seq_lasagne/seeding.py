"""Seeds: one integer gives every random stream of a run.

A run draws from three independent generators, so that changing one (say,
the validation set's size) does not change the others: the initial weights,
the validation set, and the training batches.
"""

import numpy as np

__all__ = ['seeded_rngs', 'restart_seed', 'STREAMS']

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


def restart_seed(seed, attempt):
    """The seed of a run's ``attempt``-th restart (see
    :attr:`~seq2seq_lasagne.settings.RunSettings.plateau_restarts`).

    Parameters
    ----------
    seed : int
        The run's seed.
    attempt : int
        1 for the first restart, 2 for the second, ...

    Returns
    -------
    int
        A seed in [0, 2**32), the same for the same arguments, unrelated
        to ``seed`` and to the seeds of small numbers.
    """
    if attempt < 1:
        raise ValueError('attempt must be >= 1, got %r' % (attempt,))
    return int(np.random.SeedSequence([seed, attempt]).generate_state(1)[0])
