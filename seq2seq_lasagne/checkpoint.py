"""Saving and loading trained parameters and resumable training runs.

A run directory holds ``config.json`` (how to rebuild the model),
``params.npz`` (every parameter by its Lasagne name) and, while training,
``checkpoint.npz`` (parameters, Adam's state, history and the batch
generator's state at the last validation).  Files are written to a
temporary name first and renamed, so an interrupt never leaves half a file.
"""

import json
import os
import zipfile

import numpy as np

__all__ = [
    'ParamsError',
    'save_params',
    'load_params',
    'read_config',
    'write_json',
    'save_checkpoint',
    'load_checkpoint',
]


class ParamsError(ValueError):
    """A parameter or checkpoint file is missing, corrupt or mismatched."""


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)


def _save_npz(path, arrays):
    tmp = path + '.tmp.npz'
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def save_params(model, run_dir):
    """Write ``config.json`` and ``params.npz`` for ``model``."""
    values = {}
    for p in model.all_params():
        values[p.name] = p.get_value()
    _save_npz(os.path.join(run_dir, 'params.npz'), values)
    write_json(os.path.join(run_dir, 'config.json'), model.config)


def read_config(run_dir):
    """The model configuration saved in ``run_dir``.

    Raises
    ------
    ParamsError
        If the directory or its ``config.json`` is missing or unreadable.
    """
    if not os.path.isdir(run_dir):
        raise ParamsError('parameter directory %s does not exist' % run_dir)
    path = os.path.join(run_dir, 'config.json')
    try:
        with open(path) as f:
            config = json.load(f)
    except FileNotFoundError:
        raise ParamsError('%s is missing (not a run directory?)' % path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParamsError('%s is corrupt: %s' % (path, exc))
    if not isinstance(config, dict) or 'model' not in config:
        raise ParamsError('%s does not describe a model' % path)
    return config


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ParamsError('%s is missing' % path)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ParamsError('%s is corrupt: %s' % (path, exc))


def load_params(model, run_dir):
    """Set ``model``'s parameters from ``run_dir/params.npz``.

    Raises
    ------
    ParamsError
        If the file is missing or corrupt, or its names or shapes do not
        match the model's.
    """
    path = os.path.join(run_dir, 'params.npz')
    values = _read_npz(path)
    params = model.all_params()
    names = [p.name for p in params]
    missing = [n for n in names if n not in values]
    extra = [n for n in values if n not in names]
    if missing or extra:
        raise ParamsError(
            '%s does not match the model: missing %s; unexpected %s'
            % (
                path,
                ', '.join(missing[:3]) or 'none',
                ', '.join(extra[:3]) or 'none',
            )
        )
    for p in params:
        want = p.get_value().shape
        if values[p.name].shape != want:
            raise ParamsError(
                '%s: %s has shape %s, the model needs %s'
                % (path, p.name, values[p.name].shape, want)
            )
    for p in params:
        p.set_value(values[p.name].astype(p.dtype))


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


def load_checkpoint(path, trainer, state, extra=None):
    """Restore ``trainer`` and ``state`` from :func:`save_checkpoint`.

    Raises
    ------
    ParamsError
        If the file is corrupt or was saved with other run settings.
    """
    arrays = _read_npz(path)
    try:
        meta = json.loads(bytes(arrays.pop('meta')).decode())
        name, pos, has_gauss, cached = meta['rng']
        rng_state = (name, arrays.pop('rng_keys'), pos, has_gauss, cached)
    except (KeyError, ValueError, TypeError) as exc:
        raise ParamsError('%s is corrupt: %s' % (path, exc))
    if extra is not None and meta.get('extra') != extra:
        raise ParamsError(
            '%s was saved with other settings (%s); use '
            'another --out or delete it' % (path, meta['extra'])
        )
    shared = [arrays[k] for k in sorted(arrays)]
    try:
        trainer.set_shared_state(shared)
    except ValueError as exc:
        raise ParamsError('%s: %s' % (path, exc))
    state.samples_processed = meta['samples_processed']
    state.history = meta['history']
    state.costs = meta['costs']
    state.train_seconds = meta['train_seconds']
    state.validation_seconds = meta['validation_seconds']
    state.batch_rng_state = rng_state
    return state
