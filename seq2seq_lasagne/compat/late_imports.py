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

With a GPU device (``device=cuda``, ``opencl``, ``init_gpu_device`` or
``contexts``) ``import theano`` itself imports ``theano.gpuarray``, before
:func:`import_gpuarray` could; :class:`DuringGpuarray`, an import hook
in place while Theano is imported, then registers the same stand-ins for
exactly as long as ``theano.gpuarray`` executes.
"""

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings

__all__ = ['import_gpuarray', 'DuringGpuarray']

_PACKAGE = 'theano.gpuarray'
_NAMES = ('imp', 'numpy.linalg.linalg')


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


def _phrase(names):
    return '%s stand-in for theano.gpuarray' % ' and '.join(names)


def import_gpuarray():
    """Import ``theano.gpuarray`` early if it needs stand-ins."""
    if _PACKAGE in sys.modules:
        return []
    names = [n for n in _NAMES if _missing(n)]
    if not names:
        return []
    with _registered(names), warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        importlib.import_module(_PACKAGE)
    return [_phrase(names)]


class DuringGpuarray(importlib.abc.MetaPathFinder):
    """Import hook: the stand-ins while ``theano.gpuarray`` executes.

    Put it on ``sys.meta_path`` while ``import theano`` runs; ``changes``
    then names the stand-ins used (empty when Theano's import did not
    import ``theano.gpuarray``, or nothing was missing).
    """

    def __init__(self):
        self.changes = []

    def find_spec(self, fullname, path, target=None):
        if fullname != _PACKAGE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        names = [n for n in _NAMES if _missing(n)]
        if spec is None or spec.loader is None or not names:
            return spec
        exec_module = spec.loader.exec_module

        def exec_with_stand_ins(module):
            with _registered(names):
                exec_module(module)
            self.changes = [_phrase(names)]

        spec.loader.exec_module = exec_with_stand_ins  # this spec's only
        return spec
