"""Reference weights: a trained baseline and attention model, shipped.

``baseline/`` and ``attention/`` beside this file are run directories (a
:class:`~seq2seq_lasagne.translator.Translator` loads them): ``params.npz``
and ``config.json`` of a model trained at the notebook's settings, and
``record.json``, written by ``scripts/make_reference.py`` from the run that
trained them: the command and seed, when, and the validation accuracy on
that seed's validation set.  ``seq2seq-lasagne translate`` without
``--params`` and the attention explorer use the attention model, so a class
sees a trained model in seconds, before training its own.
"""

import json
from pathlib import Path

from ..checkpoint import ParamsError

__all__ = ['REFERENCE_ROOT', 'REFERENCE_FILES', 'reference_dir', 'record']

#: The directory holding one reference run directory per model.
REFERENCE_ROOT = Path(__file__).resolve().parent
#: What each reference directory holds.
REFERENCE_FILES = ('params.npz', 'config.json', 'record.json')


def reference_dir(model='attention'):
    """The reference run directory of ``model``.

    Raises
    ------
    seq2seq_lasagne.checkpoint.ParamsError
        If ``model`` has no reference weights (an unknown model, or an
        installation without the package data).
    """
    path = REFERENCE_ROOT / str(model)
    missing = [f for f in REFERENCE_FILES if not (path / f).is_file()]
    if missing:
        raise ParamsError(
            'no reference weights for model %r (%s missing in %s)'
            % (model, ', '.join(missing), path)
        )
    return path


def record(model='attention'):
    """What ``record.json`` says of the reference ``model`` (a dict)."""
    with open(str(reference_dir(model) / 'record.json')) as f:
        return json.load(f)
