"""Make Theano 1.0.5 and Lasagne 0.1 run on Python 3.10-3.13, NumPy 1.23-2.x.

This is the only place in the package that works around the legacy stack.
:func:`apply` is called once, by ``import seq2seq_lasagne``, before Theano
is imported.  Each fix is applied only when its problem is found in the
installed stack (a missing name, a header, a library's symbols), and a
Theano flag the user set in ``THEANO_FLAGS`` or a ``.theanorc`` file
(``THEANORC``) is never changed.  :func:`changes` names every fix applied,
and ``seq2seq-lasagne doctor`` prints them.

One module per concern, each documenting its fixes (why, what changes):

:mod:`.flags`
    ``floatX=float32``, ``gcc.cxxflags=-D__FAST_MATH__``, and an empty
    ``blas.ldflags`` for the import; ``THEANO_FLAGS`` restored afterwards.
:mod:`.blas`
    ``blas.ldflags`` for the OpenBLAS inside SciPy's wheel, plain or with
    ``scipy_``-prefixed symbols; one OpenBLAS thread.
:mod:`.numpy_api`
    NumPy names Theano's Python code uses and NumPy 1.24 or 2.0 removed
    (``np.bool`` & co., ``np.cast``, ``np.sctype2char``, ``np.product``,
    ``numpy.distutils``).
:mod:`.numpy_c`
    Theano's C code against NumPy 2's headers (a forced-include header).
:mod:`.late_imports`
    ``imp`` (gone in Python 3.12) and ``numpy.linalg.linalg`` (gone in
    NumPy 2.x) for what ``theano.scan`` imports at its first call.
:mod:`.scan`
    scan's Python loop, its slow reused-output check, and which scans
    keep the Cython core where it builds.
:mod:`.cache_keys`
    C modules of file-based ops (``COp``) and of ops without parameters
    found again in the compile cache by later processes (Theano keys the
    first by Python's salted hash, and the second as unversioned).
:mod:`.graph_cache`
    optimised graphs kept in the compile directory for later processes.
:mod:`.precompiled`
    the headers every C module opens with, precompiled once for g++.
:mod:`.parallel_compile`
    a graph's missing C modules compiled several at a time.
:mod:`.compile_call`
    not a fix: one call of ``GCC_compiler.compile_str``, for the two
    fixes above that wrap it.
:mod:`.lasagne_imports`
    ``theano.tensor.signal.downsample`` and ``pkg_resources`` for
    Lasagne 0.1.

Building Theano 1.0.5's sdist on Python 3.12+ is an install-time problem,
solved before this package exists (``build-support/``, docs/PYTHONS.md).
"""

import os
import sys
import traceback
import warnings

from . import (
    blas,
    cache_keys,
    flags,
    graph_cache,
    lasagne_imports,
    late_imports,
    numpy_api,
    numpy_c,
    parallel_compile,
    precompiled,
    scan,
)
from .blas import scipy_openblas_ldflags, scipy_openblas_path
from .flags import user_flags

__all__ = [
    'SettingsRefused',
    'apply',
    'changes',
    'user_flags',
    'scipy_openblas_ldflags',
    'scipy_openblas_path',
]

#: What :func:`apply` changed, one short phrase each, in order.
_changes = []
_applied = False


def _import_theano(changed):
    """``import theano`` with the stand-ins it needs for its import."""
    finder, done = numpy_c.install()
    changed.extend(done)
    # A GPU device makes Theano's import execute theano.gpuarray.
    gpuarray_hook = late_imports.DuringGpuarray()
    sys.meta_path.insert(0, gpuarray_hook)
    try:
        with numpy_api.distutils_stand_in(changed), warnings.catch_warnings():
            # Theano 1.0.5 touches np.bool & co., deprecated in NumPy
            # 1.20+, and numpy.core, deprecated in NumPy 2.
            warnings.simplefilter('ignore', DeprecationWarning)
            warnings.simplefilter('ignore', FutureWarning)
            import theano  # noqa: F401  (reads THEANO_FLAGS now)
    finally:
        sys.meta_path.remove(gpuarray_hook)
        if finder is not None:
            sys.meta_path.remove(finder)
    changed.extend(gpuarray_hook.changes)


class SettingsRefused(ValueError):
    """Theano refused a setting from ``THEANO_FLAGS`` or ``.theanorc`` while
    it was imported (an unknown ``floatX``, a compile directory it cannot
    create, ...); the message is one line naming the setting."""


# Theano checks its configuration, and raises, in these of its modules.
_CONFIG_MODULES = ('configparser.py', 'configdefaults.py')


def _refused(exc):
    """The SettingsRefused for an exception raised by ``import theano``, or
    None when Theano's configuration did not raise it."""
    for frame in traceback.extract_tb(exc.__traceback__):
        folder, name = os.path.split(frame.filename)
        if name in _CONFIG_MODULES and os.path.basename(folder) == 'theano':
            where = '.theanorc'
            if os.environ.get('THEANO_FLAGS'):
                where = 'THEANO_FLAGS'
            return SettingsRefused(
                'Theano refused its settings (%s): %s'
                % (where, ' '.join(str(exc).split()))
            )
    return None


def apply():
    """Apply every fix once; later calls do nothing.

    Returns
    -------
    list of str
        What was changed (see :func:`changes`).

    Raises
    ------
    SettingsRefused
        Theano refused a setting of the user's while it was imported.
    """
    global _applied
    if _applied:
        return changes()
    _applied = True
    if 'theano' in sys.modules:
        warnings.warn(
            'seq2seq_lasagne was imported after theano: its '
            'Theano flag defaults could not be applied'
        )
        saved, blas_is_ours = None, False
        restore = False
    else:
        saved, done, blas_is_ours = flags.fill_flags()
        _changes.extend(done)
        restore = True
    _changes.extend(numpy_api.restore_aliases())
    _changes.extend(numpy_api.restore_removed_functions())
    _changes.extend(scan.disable_cython())
    if blas_is_ours:
        blas.quiet_logger()
    try:
        _import_theano(_changes)
    except Exception as exc:
        refused = _refused(exc)
        if refused is None:
            raise
        raise refused from None
    finally:
        if restore:
            flags.restore_environment(saved)
    if blas_is_ours:
        _changes.extend(blas.set_ldflags())
    # Before theano.gpuarray, which imports pkg_resources too.
    lasagne_imports.quiet_pkg_resources()
    _changes.extend(late_imports.import_gpuarray())
    _changes.extend(scan.fix_reuse_check())
    _changes.extend(scan.route_sequence_states())
    _changes.extend(cache_keys.stable_cop_versions())
    _changes.extend(cache_keys.versioned_propless_modules())
    _changes.extend(graph_cache.install())
    _changes.extend(precompiled.install())
    # After precompiled: its pool compiles through the header's wrapper.
    _changes.extend(parallel_compile.install())
    _changes.extend(lasagne_imports.register_downsample())
    return changes()


def changes():
    """What :func:`apply` changed, as a list of short phrases."""
    return list(_changes)
