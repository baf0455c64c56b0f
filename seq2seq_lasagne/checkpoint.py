"""Saving and loading trained parameters and resumable training runs.

A run directory holds ``config.json`` (how to rebuild the model),
``params.npz`` (every parameter by its Lasagne name) and, while training,
``checkpoint.npz`` (parameters, Adam's state, history and the batch
generator's state at the last validation).  Files are written atomically
(:mod:`~seq2seq_lasagne.atomic`), so an interrupt or a full disk never
leaves half a file.  Files are read through
:mod:`~seq2seq_lasagne.validation`: names, dtypes, shapes, sizes and
finiteness are checked before a value is used, and a checkpoint can be
checked (:func:`read_checkpoint`) before the model is even built.
"""

import json
import math
import os
import zipfile

import numpy as np

from .atomic import atomic_write
from .settings import LIMITS
from .validation import (
    MAX_JSON_BYTES,
    NpzReader,
    ParamsError,
    check_finite,
    check_model_config,
    parse_json,
    read_json,
)

__all__ = [
    'ParamsError',
    'save_params',
    'load_params',
    'read_config',
    'write_json',
    'save_checkpoint',
    'read_checkpoint',
    'load_checkpoint',
    'MAX_CONFIG_BYTES',
]

#: Largest config.json read (a real one is about 200 bytes).
MAX_CONFIG_BYTES = 65536


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically."""
    with atomic_write(path, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')


def _save_npz(path, arrays):
    """What ``np.savez`` writes, but closing the archive on a failed write
    (np.savez leaves it to the garbage collector, which then complains on
    stderr)."""
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as archive:
            for name, value in arrays.items():
                with archive.open(name + '.npy', 'w', force_zip64=True) as m:
                    np.lib.format.write_array(
                        m, np.asanyarray(value), allow_pickle=False
                    )


def save_params(model, run_dir):
    """Write ``config.json`` and ``params.npz`` for ``model``."""
    values = {}
    for p in model.all_params():
        values[p.name] = p.get_value()
    _save_npz(os.path.join(run_dir, 'params.npz'), values)
    write_json(os.path.join(run_dir, 'config.json'), model.config)


def read_config(run_dir):
    """The model configuration saved in ``run_dir``, checked.

    Raises
    ------
    ParamsError
        If the directory or its ``config.json`` is missing, unreadable, or
        does not describe a model within the settings' limits.
    """
    if not os.path.isdir(run_dir):
        raise ParamsError('parameter directory %s does not exist' % run_dir)
    path = os.path.join(run_dir, 'config.json')
    if not os.path.lexists(path):
        raise ParamsError('%s is missing (not a run directory?)' % path)
    config = read_json(path, MAX_CONFIG_BYTES)
    check_model_config(config, path)
    return config


def _float_arrays(npz, expected):
    """Read the arrays ``expected`` names from ``npz``, checked.

    ``expected`` maps name -> (shape, dtype); names, shapes and dtypes are
    compared with the headers before any data is read; values are cast to
    the wanted dtype and must be finite.
    """
    missing = [n for n in expected if n not in npz.headers]
    extra = [n for n in npz.headers if n not in expected]
    if missing or extra:
        raise ParamsError(
            '%s does not match the model: missing %s; unexpected %s'
            % (
                npz.path,
                ', '.join(missing[:3]) or 'none',
                ', '.join(extra[:3]) or 'none',
            )
        )
    for name, (shape, _) in expected.items():
        dtype, have = npz.headers[name]
        if dtype.kind != 'f':
            raise ParamsError(
                '%s: %s has dtype %s; parameters are floating point'
                % (npz.path, name, dtype)
            )
        if have != tuple(shape):
            raise ParamsError(
                '%s: %s has shape %s, the model needs %s'
                % (npz.path, name, have, tuple(shape))
            )
    values = {}
    for name, (_, dtype) in expected.items():
        with np.errstate(over='ignore'):
            value = npz.read(name).astype(dtype)
        check_finite(value, name, npz.path)
        values[name] = value
    return values


def load_params(model, run_dir):
    """Set ``model``'s parameters from ``run_dir/params.npz``.

    Raises
    ------
    ParamsError
        If the file is missing or corrupt, or its names, shapes or dtypes
        do not match the model's, or it holds NaN or infinity.
    """
    path = os.path.join(run_dir, 'params.npz')
    params = model.all_params()
    expected = {p.name: (p.get_value().shape, p.dtype) for p in params}
    if len(expected) != len(params):
        raise ParamsError('the model has two parameters of one name')
    with NpzReader(path) as npz:
        values = _float_arrays(npz, expected)
    for p in params:
        p.set_value(values[p.name])


def save_checkpoint(path, trainer, state, extra=None):
    """Save everything needed to resume training exactly.

    Parameters
    ----------
    path : str
        ``.npz`` file to write.
    trainer : Trainer
    state : RunState
        Must be at a validation point (as in ``fit``'s ``on_validation``).
    extra : dict, optional
        JSON-serialisable run settings to check on resume.
    """
    arrays = {
        'shared_%04d' % i: v for i, v in enumerate(trainer.shared_state())
    }
    meta = {
        'samples_processed': state.samples_processed,
        'history': state.history,
        'costs': state.costs,
        'train_seconds': state.train_seconds,
        'validation_seconds': state.validation_seconds,
        'extra': extra or {},
    }
    # RandomState.get_state(): (name, keys, pos, has_gauss, cached_gauss)
    name, keys, pos, has_gauss, cached = state.batch_rng_state
    meta['rng'] = [name, int(pos), int(has_gauss), float(cached)]
    arrays['rng_keys'] = keys
    arrays['meta'] = np.frombuffer(json.dumps(meta).encode(), dtype='uint8')
    _save_npz(path, arrays)


class Checkpoint:
    """A checkpoint file, read and checked, not yet applied.

    Attributes
    ----------
    path : str
    meta : dict
        Samples, history, costs, timings, the batch generator's state and
        the run settings it was saved with.
    shared : list of (dtype, shape)
        The training variables' headers, in order.
    """

    def __init__(self, path, meta, shared):
        self.path, self.meta, self.shared = path, meta, shared


def _bad(path, what):
    raise ParamsError('%s is corrupt: %s' % (path, what))


def _is_int(value, low, high):
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and low <= value <= high
    )


def _is_number(value, low=-math.inf, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return low <= value <= high  # also for ints too large for a float


def _check_meta(meta, path):
    """Raise ParamsError unless ``meta`` is what save_checkpoint writes."""
    if not isinstance(meta, dict):
        _bad(path, 'its metadata is not a JSON object')
    keys = (
        'samples_processed',
        'history',
        'costs',
        'train_seconds',
        'validation_seconds',
        'extra',
        'rng',
    )
    missing = [k for k in keys if k not in meta]
    if missing:
        _bad(path, 'its metadata lacks %s' % ', '.join(missing))
    if not _is_int(meta['samples_processed'], 0, LIMITS['samples']):
        _bad(path, 'samples_processed is %r' % (meta['samples_processed'],))
    for key in ('train_seconds', 'validation_seconds'):
        if not _is_number(meta[key], 0):
            _bad(path, '%s is %r' % (key, meta[key]))
    costs = meta['costs']
    if not isinstance(costs, list) or not all(map(_is_number, costs)):
        _bad(path, 'costs are not a list of finite numbers')
    history = meta['history']
    if not isinstance(history, list):
        _bad(path, 'history is not a list')
    for row in history:
        if not (
            isinstance(row, dict)
            and _is_int(row.get('samples'), 1, meta['samples_processed'])
            and _is_number(row.get('val_accuracy'), 0, 1)
            and _is_number(row.get('cost'))
        ):
            _bad(path, 'history holds %.60r' % (row,))
    if not isinstance(meta['extra'], dict):
        _bad(path, 'its settings are not a JSON object')
    rng = meta['rng']
    if not (
        isinstance(rng, list)
        and len(rng) == 4
        and rng[0] == 'MT19937'
        and _is_int(rng[1], 0, 624)
        and rng[2] in (0, 1)
        and _is_number(rng[3])
    ):
        _bad(path, 'the batch generator state is %.60r' % (rng,))
    batch = meta['extra'].get('batch_size')
    if _is_int(batch, 1, LIMITS['batch_size']) and (
        len(costs) * batch != meta['samples_processed']
    ):
        _bad(
            path,
            '%d costs of batches of %d do not make %d samples'
            % (len(costs), batch, meta['samples_processed']),
        )


def _settings_differ(saved, wanted):
    keys = sorted(set(saved) | set(wanted))
    return [
        '%s %r here, %r there' % (k, wanted.get(k), saved.get(k))
        for k in keys
        if saved.get(k) != wanted.get(k)
    ]


def read_checkpoint(path, extra=None):
    """Read and check a checkpoint without touching a model.

    Everything that can be checked without the model is: the archive, its
    members' names, dtypes and sizes, the metadata, the batch generator's
    state, and the run settings (against ``extra``).

    Returns
    -------
    Checkpoint

    Raises
    ------
    ParamsError
    """
    with NpzReader(path) as npz:
        headers = dict(npz.headers)
        shared = sorted(k for k in headers if k.startswith('shared_'))
        expected = ['shared_%04d' % i for i in range(len(shared))]
        unexpected = sorted(set(headers) - set(shared) - {'meta', 'rng_keys'})
        if shared != expected or unexpected:
            _bad(path, 'unexpected members %s' % ', '.join(unexpected[:3]))
        for name in ('meta', 'rng_keys'):
            if name not in headers:
                _bad(path, '%s is missing' % name)
        dtype, shape = headers['meta']
        if dtype != np.uint8 or len(shape) != 1:
            _bad(path, 'meta has dtype %s, shape %s' % (dtype, shape))
        if shape[0] > MAX_JSON_BYTES:
            _bad(path, 'meta is %d bytes of JSON' % shape[0])
        dtype, shape = headers['rng_keys']
        if dtype != np.uint32 or shape != (624,):
            _bad(path, 'rng_keys has dtype %s, shape %s' % (dtype, shape))
        for name in shared:
            if headers[name][0].kind != 'f':
                raise ParamsError(
                    '%s: %s has dtype %s; training variables are floating '
                    'point' % (path, name, headers[name][0])
                )
        meta = parse_json(npz.read('meta').tobytes(), '%s (meta)' % path)
    _check_meta(meta, path)
    if extra is not None and meta['extra'] != extra:
        raise ParamsError(
            '%s was saved with other settings (%s); use another --out or '
            'delete it'
            % (path, '; '.join(_settings_differ(meta['extra'], extra)[:3]))
        )
    return Checkpoint(path, meta, [headers[k] for k in shared])


def load_checkpoint(path, trainer, state, extra=None):
    """Restore ``trainer`` and ``state`` from :func:`save_checkpoint`.

    The file is checked first (:func:`read_checkpoint`), then its training
    variables against the trainer's, then their values are read and must
    be finite; only then is anything changed.

    Raises
    ------
    ParamsError
        If the file is corrupt, does not fit the trainer, holds NaN or
        infinity, or was saved with other run settings.
    """
    checkpoint = read_checkpoint(path, extra)
    variables = list(trainer.updates)
    expected = {
        'shared_%04d' % i: (v.get_value().shape, v.dtype)
        for i, v in enumerate(variables)
    }
    if len(checkpoint.shared) != len(variables):
        raise ParamsError(
            '%s holds %d training variables, the model has %d'
            % (path, len(checkpoint.shared), len(variables))
        )
    with NpzReader(path) as npz:
        for name, (shape, _) in expected.items():
            if npz.headers[name][1] != tuple(shape):
                raise ParamsError(
                    '%s: training variable %s (%s) has shape %s, the model '
                    'needs %s'
                    % (
                        path,
                        name,
                        variables[int(name[7:])],
                        npz.headers[name][1],
                        tuple(shape),
                    )
                )
        shared = []
        for name, (_, dtype) in expected.items():
            with np.errstate(over='ignore'):
                value = npz.read(name).astype(dtype)
            check_finite(value, name, path)
            shared.append(value)
        keys = npz.read('rng_keys')
    meta = checkpoint.meta
    trainer.set_shared_state(shared)
    name, pos, has_gauss, cached = meta['rng']
    state.samples_processed = meta['samples_processed']
    state.history = meta['history']
    state.costs = meta['costs']
    state.train_seconds = meta['train_seconds']
    state.validation_seconds = meta['validation_seconds']
    state.batch_rng_state = (name, keys, pos, has_gauss, cached)
    return state
