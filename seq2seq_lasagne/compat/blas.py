"""A real BLAS for Theano: the OpenBLAS inside SciPy's wheel.

Theano links its BLAS ops (``Gemm``, ``Gemv``, ``Ger``, ``Dot22``,
``BatchedDot``) against the library named in ``blas.ldflags``; with the
flag empty they fall back to slower NumPy C-API loops.  Its own default
probes ``numpy.distutils``, which modern NumPy no longer has.  Every SciPy
wheel for Linux carries an OpenBLAS in ``site-packages/scipy.libs`` under
a hashed file name, found here at run time and linked by exact name
(``-l:``) with an rpath.

Two kinds are met:

* SciPy up to 1.12 ships ``libopenblasp-r0-<hash>.so``, whose symbols are
  the Fortran BLAS names Theano declares (``sgemm_``);
* SciPy 1.13 and later ship ``libscipy_openblas-<hash>.so`` (the
  ``scipy-openblas32`` build), whose symbols carry a ``scipy_`` prefix
  (``scipy_sgemm_``), so that it cannot clash with another BLAS in the
  process.  Linked as it is, Theano's ops find none of their functions.
  Each name Theano's BLAS header declares that the library exports with
  the prefix is then renamed by a ``-D`` flag in ``blas.ldflags``
  (``-Dsgemm_=scipy_sgemm_``); Theano passes those flags to every op
  that includes that header and to its own BLAS link checks.

The prefix is read from the library itself (which of ``sgemm_`` and
``scipy_sgemm_`` it exports), not assumed from SciPy's version.  A library
without 32-bit-integer BLAS symbols (NumPy's ``libscipy_openblas64_``) is
not used.

That OpenBLAS is also set to one thread unless ``OPENBLAS_NUM_THREADS``,
``GOTO_NUM_THREADS`` or ``OMP_NUM_THREADS`` is set: the lab's products are
10-40 wide, too small to gain from being split between threads (the
``openblas_2threads`` lever of ``benchmarks/bench_driver.py`` measures it;
``benchmarks/README.md`` holds the figures).
"""

import ctypes
import glob
import importlib.util
import logging
import os
import re

__all__ = [
    'scipy_openblas_path',
    'scipy_openblas_ldflags',
    'symbol_prefix',
    'THREAD_VARS',
    'set_ldflags',
    'quiet_logger',
]

#: Environment variables through which the user chose OpenBLAS's threads.
THREAD_VARS = ('OPENBLAS_NUM_THREADS', 'GOTO_NUM_THREADS', 'OMP_NUM_THREADS')

#: Symbol prefixes of OpenBLAS builds, tried in this order.
_PREFIXES = ('', 'scipy_')

_DECLARED = re.compile(r'\b([a-z][a-z0-9_]*)\s*\(')


def _scipy_libs():
    spec = importlib.util.find_spec('scipy')
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(
        os.path.dirname(list(spec.submodule_search_locations)[0]), 'scipy.libs'
    )


def _load(path):
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def symbol_prefix(path):
    """The prefix of the Fortran BLAS symbols a library exports, or None.

    Parameters
    ----------
    path : str
        A shared library.

    Returns
    -------
    str or None
        ``''`` for a plain BLAS (``sgemm_``), ``'scipy_'`` for SciPy's
        ``scipy-openblas32`` build (``scipy_sgemm_``), None when the
        library has neither (not a BLAS, or a 64-bit-integer one).
    """
    lib = _load(path)
    if lib is None:
        return None
    for prefix in _PREFIXES:
        if hasattr(lib, prefix + 'sgemm_'):
            return prefix
    return None


def scipy_openblas_path():
    """Path of the OpenBLAS bundled in SciPy's wheel, or ``None``."""
    libdir = _scipy_libs()
    if libdir is None:
        return None
    for path in sorted(glob.glob(os.path.join(libdir, '*openblas*.so*'))):
        if symbol_prefix(path) is not None:
            return path
    return None


def _theano_blas_names():
    """The BLAS functions Theano's C code declares (imports Theano)."""
    from theano.tensor import blas_headers

    text = (
        blas_headers.blas_header_text() + blas_headers.openblas_threads_text()
    )
    return sorted(set(_DECLARED.findall(text)))


def scipy_openblas_ldflags():
    """``blas.ldflags`` for the OpenBLAS bundled in SciPy's wheel, or ``''``.

    The library is linked by exact name (``-l:``) with an rpath; the path
    is computed at run time and never written into a file.  For a library
    with prefixed symbols, ``-D`` flags rename each BLAS function Theano
    declares to the library's name for it.
    """
    path = scipy_openblas_path()
    if path is None or ' ' in path:
        return ''
    libdir, name = os.path.split(path)
    flags = ['-L{0} -l:{1} -Wl,-rpath,{0}'.format(libdir, name)]
    prefix = symbol_prefix(path)
    if prefix:
        lib = _load(path)
        flags.extend(
            '-D{0}={1}{0}'.format(n, prefix)
            for n in _theano_blas_names()
            if hasattr(lib, prefix + n)
        )
    return ' '.join(flags)


class _DropMessages(logging.Filter):
    """Drop Theano BLAS warnings that our own flag choice triggers."""

    # The first comes from the empty flag during import (it is replaced
    # right after); the second from Theano's file-name check, which does
    # not understand ``-l:exact-name``.
    noise = (
        'Using NumPy C-API based implementation',
        'We did not find a dynamic library',
    )

    def filter(self, record):
        return not any(n in record.getMessage() for n in self.noise)


def quiet_logger():
    """Silence the two warnings above (before Theano is imported)."""
    logging.getLogger('theano.tensor.blas').addFilter(_DropMessages())


def set_ldflags():
    """Set ``blas.ldflags`` after Theano's import; what was changed."""
    import theano

    ldflags = scipy_openblas_ldflags()
    theano.config.blas.ldflags = ldflags
    if not ldflags:
        return ['blas.ldflags=(empty: BLAS through NumPy)']
    path = scipy_openblas_path()
    prefix = symbol_prefix(path)
    done = ["blas.ldflags=SciPy's OpenBLAS"]
    if prefix:
        renamed = ldflags.count(' -D')
        done.append(
            "SciPy's OpenBLAS: %d BLAS names mapped to its "
            '%s-prefixed symbols' % (renamed, prefix)
        )
    if not any(os.environ.get(name) for name in THREAD_VARS):
        # Theano's modules link this very file (same soname), so they
        # share the instance configured here.
        try:
            getattr(ctypes.CDLL(path), prefix + 'openblas_set_num_threads')(1)
        except (OSError, AttributeError):
            return done
        done.append("SciPy's OpenBLAS: 1 thread")
    return done
