"""Names that ``theano.scan``'s first call imports and today's stack lacks.

``theano.scan`` imports ``theano.gpuarray`` at its first call, on the CPU
too, and that package imports two names that are gone:

``imp``
    ``theano/tests/breakpoint.py`` (``PdbBreakpoint``) imports ``imp``, to
    call ``imp.find_module`` when a breakpoint fires; Python 3.12 removed
    the module.  The stand-in's ``find_module`` answers through
    ``importlib`` (and raises ``ImportError`` for a missing module, as
    ``imp`` did).
``numpy.linalg.linalg``
    ``theano/gpuarray/linalg.py`` imports ``LinAlgError`` from it.  NumPy
    2.0 renamed the module ``numpy.linalg._linalg`` and kept the old name
    as a deprecated alias, which later releases dropped.  The stand-in
    offers ``numpy.linalg``'s names.

When either cannot be found, ``theano.gpuarray`` is imported here (what
the first ``scan`` would do anyway) with stand-ins for the missing ones in
``sys.modules``; they are taken out again right after, so that other code
still sees the names as absent, and only Theano's modules keep them.
"""

import contextlib
import importlib
import importlib.util
import sys
import types
import warnings

__all__ = ['import_gpuarray']

_PACKAGE = 'theano.gpuarray'


def _missing(name):
    try:
        return importlib.util.find_spec(name) is None
    except ImportError:
        return True


def _find_module(name, path=None):
    """``imp.find_module``'s answer, as far as ``PdbBreakpoint`` asks."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ImportError('No module named %r' % name)
    return None, spec.origin, ('', '', 0)


def _stand_in(name):
    module = types.ModuleType(
        name, 'Stand-in registered by seq2seq_lasagne.compat for ' + _PACKAGE
    )
    if name == 'imp':
        module.find_module = _find_module
    else:
        import numpy.linalg

        module.__dict__.update(
            (k, v)
            for k, v in vars(numpy.linalg).items()
            if not k.startswith('__')
        )
    return module


@contextlib.contextmanager
def _registered(names):
    sys.modules.update((name, _stand_in(name)) for name in names)
    try:
        yield
    finally:
        for name in names:
            sys.modules.pop(name, None)


def import_gpuarray():
    """Import ``theano.gpuarray`` early if it needs stand-ins."""
    if _PACKAGE in sys.modules:
        return []
    names = [n for n in ('imp', 'numpy.linalg.linalg') if _missing(n)]
    if not names:
        return []
    with _registered(names), warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        importlib.import_module(_PACKAGE)
    return ['%s stand-in for theano.gpuarray' % ' and '.join(names)]
