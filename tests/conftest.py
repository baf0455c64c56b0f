"""Shared fixtures.  Compiled Theano functions are session-scoped: each
distinct graph is compiled once per test run (see the README's CI notes).
"""
import numpy as np
import pytest

import seq2seq_lasagne  # noqa: F401  (compat fixes before theano)


@pytest.fixture(scope='session')
def short_baseline():
    """A baseline trainer for 3-digit targets, compiled once."""
    from seq2seq_lasagne.training import Trainer, build_seeded
    return Trainer(build_seeded('baseline', 0, max_digits=3))


@pytest.fixture
def rng():
    return np.random.RandomState(1234)


@pytest.fixture(scope='session')
def short_attention():
    """An attention-model trainer for 3-digit targets, compiled once."""
    from seq2seq_lasagne.training import Trainer, build_seeded
    return Trainer(build_seeded('attention', 0, max_digits=3))
