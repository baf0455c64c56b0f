"""NumPy names Theano 1.0.5's Python code uses and newer NumPy removed.

Each is put back only when the installed NumPy lacks it.

``np.bool``, ``np.int``, ``np.float``, ``np.complex``, ``np.object``,
``np.str``
    Deprecated in NumPy 1.20 (a warning at every use, served by the
    module's ``__getattr__``), removed in 1.24: set as module attributes,
    the builtins they aliased.  (NumPy 2 brought ``np.bool`` back as its
    own boolean scalar type, which Theano uses the same way; it is then
    left alone.)
``np.sctype2char``, ``np.cast``, ``np.product``
    Removed in NumPy 2.0.  ``sctype2char`` (elementwise ops' output
    types) becomes the dtype's ``char``; ``cast[dtype](x)`` (scalar
    gradients, batch normalisation) converts ``x`` to an array of that
    dtype; ``product`` is ``prod`` under its old name.
``numpy.distutils``
    Gone on Python 3.12 and in NumPy 2.  Theano imports it at import time
    and calls ``numpy.distutils.misc_util.get_numpy_include_dirs()`` for
    every C module it compiles.  A stand-in offering just that function
    (``[numpy.get_include()]``) is registered while Theano is imported
    (:func:`distutils_stand_in`), then taken out of ``sys.modules`` again,
    so that other code still sees ``numpy.distutils`` as absent; Theano's
    modules keep their reference to it through the ``numpy`` module's
    ``distutils`` attribute.
"""

import contextlib
import importlib.util
import sys
import types

import numpy as np

__all__ = [
    'restore_aliases',
    'restore_removed_functions',
    'distutils_stand_in',
]

_ALIASES = {
    'bool': bool,
    'int': int,
    'float': float,
    'complex': complex,
    'object': object,
    'str': str,
}

_DISTUTILS = ('numpy.distutils', 'numpy.distutils.misc_util')


def _has(name):
    try:
        getattr(np, name)
    except AttributeError:  # NumPy 2 raises it with a migration hint
        return False
    return True


def restore_aliases():
    """Put back ``np.bool`` & co.; what was changed."""
    # Not _has(): NumPy 1.20-1.23 still answer through __getattr__, with a
    # DeprecationWarning at each use.
    missing = [name for name in _ALIASES if name not in np.__dict__]
    for name in missing:
        setattr(np, name, _ALIASES[name])
    return ['numpy aliases restored: ' + ', '.join(missing)] if missing else []


def _sctype2char(sctype):
    """NumPy 1.x ``sctype2char``: the type character of a scalar type."""
    return np.dtype(sctype).char


class _Cast(object):
    """NumPy 1.x ``np.cast``: ``cast[dtype](x)`` is ``x`` as that dtype."""

    def __getitem__(self, dtype):
        dtype = np.dtype(dtype)
        return lambda x: np.asarray(x).astype(dtype)


_REMOVED = {'sctype2char': _sctype2char, 'cast': _Cast(), 'product': np.prod}


def restore_removed_functions():
    """Put back the functions NumPy 2 removed; what was changed."""
    missing = [name for name in _REMOVED if not _has(name)]
    for name in missing:
        setattr(np, name, _REMOVED[name])
    return (
        ['numpy 2 removals restored: ' + ', '.join(missing)] if missing else []
    )


def _distutils_missing():
    try:
        return importlib.util.find_spec('numpy.distutils') is None
    except ImportError:
        return True


@contextlib.contextmanager
def distutils_stand_in(changed):
    """Offer a minimal ``numpy.distutils`` while Theano is imported.

    Parameters
    ----------
    changed : list of str
        Gets a phrase appended when the stand-in was needed.
    """
    if not _distutils_missing():
        yield
        return
    package = types.ModuleType(
        _DISTUTILS[0],
        'Stand-in registered by seq2seq_lasagne.compat for Theano 1.0.5',
    )
    misc_util = types.ModuleType(_DISTUTILS[1])
    misc_util.get_numpy_include_dirs = lambda: [np.get_include()]
    package.misc_util = misc_util
    package.__path__ = []
    saved = {name: sys.modules.get(name) for name in _DISTUTILS}
    sys.modules.update(zip(_DISTUTILS, (package, misc_util)))
    np.distutils = package
    changed.append('numpy.distutils stand-in (include dirs only)')
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
