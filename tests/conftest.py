"""Shared fixtures.  Compiled Theano functions are session-scoped: each
distinct graph is compiled once per test run (see the README's CI notes).
"""

import numpy as np
import pytest

import seq2seq_lasagne  # noqa: F401  (compat fixes before theano)


def _short_trainer(model):
    from seq2seq_lasagne.settings import RunSettings
    from seq2seq_lasagne.training import build_trainer

    trainer = build_trainer(
        RunSettings(model=model, min_digits=3, max_digits=3)
    )
    trainer.compile()
    return trainer


@pytest.fixture(scope='session')
def short_baseline():
    """A baseline trainer for 3-digit targets, compiled once."""
    return _short_trainer('baseline')


@pytest.fixture
def rng():
    return np.random.RandomState(1234)


@pytest.fixture(scope='session')
def short_attention():
    """An attention-model trainer for 3-digit targets, compiled once."""
    return _short_trainer('attention')


@pytest.fixture(scope='session')
def reference_attention():
    """The package's reference attention model, compiled once."""
    from seq2seq_lasagne.translator import Translator

    return Translator.reference('attention')
