"""Theano 1.0.5's C code against NumPy 2's C headers.

Theano compiles C at run time against the installed NumPy's headers.
Those of NumPy 2 break it in two ways, both read from the headers
themselves (not assumed from NumPy's version):

* ``numpy/npy_3kcompat.h`` no longer defines ``NPY_PY3K`` and the Python 2
  names (``PyInt_AsLong``, ``PyString_FromString``, ...) that Theano's
  ``lazylinker_c`` and op code use, so ``import theano`` cannot build its
  lazy linker;
* built for NumPy 1.x and 2.x at once (NumPy 2's default), the public
  ``PyArray_Descr`` struct has no ``elsize`` field, and ``DimShuffle``,
  the BLAS ops, ``rng_mrg`` and the sparse ops read
  ``PyArray_DESCR(x)->elsize``.

The fix is one header, written under Theano's compile directory with its
content hash in its name, and given to g++ as a forced include
(``-include<header>``) in the arguments of every compilation: it defines
``NPY_TARGET_VERSION`` as NumPy 2.0's API version, which selects the
NumPy 2 layout of ``PyArray_Descr`` (with ``elsize``; the module is built
for the NumPy that runs it anyway), and defines the Python 2 names as
NumPy 1.x's ``npy_3kcompat.h`` did.  The argument is added by wrapping
``GCC_compiler.compile_args`` as soon as ``theano.gof.cmodule`` has been
executed, before ``import theano`` goes on to build its lazy linker, so it
is part of every module's cache key: a changed header compiles afresh.
The user's ``gcc.cxxflags`` are left as they are, and Theano's installed
files are not touched.  With NumPy 1.x headers nothing is done.
"""

import hashlib
import importlib.abc
import importlib.machinery
import os
import sys

import numpy as np

__all__ = ['header_text', 'install']

_CMODULE = 'theano.gof.cmodule'

#: NumPy 1.x ``npy_3kcompat.h``'s Python 2 names that Theano's C uses.
_PY2_NAMES = (
    ('PyInt_Check', 'PyLong_Check'),
    ('PyInt_CheckExact', 'PyLong_CheckExact'),
    ('PyInt_FromLong', 'PyLong_FromLong'),
    ('PyInt_AsLong', 'PyLong_AsLong'),
    ('PyInt_AS_LONG', 'PyLong_AsLong'),
    ('PyInt_AsSsize_t', 'PyLong_AsSsize_t'),
    ('PyString_Type', 'PyBytes_Type'),
    ('PyString_Check', 'PyBytes_Check'),
    ('PyString_CheckExact', 'PyBytes_CheckExact'),
    ('PyString_FromString', 'PyBytes_FromString'),
    ('PyString_FromStringAndSize', 'PyBytes_FromStringAndSize'),
    ('PyString_FromFormat', 'PyBytes_FromFormat'),
    ('PyString_AS_STRING', 'PyBytes_AS_STRING'),
    ('PyString_AsString', 'PyBytes_AsString'),
    ('PyString_AsStringAndSize', 'PyBytes_AsStringAndSize'),
    ('PyString_GET_SIZE', 'PyBytes_GET_SIZE'),
    ('PyString_Size', 'PyBytes_Size'),
)


def _read_header(include, name):
    path = os.path.join(include, 'numpy', name)
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ''


def header_text(include=None):
    """The forced-include header NumPy's C headers need, or ``''``.

    Parameters
    ----------
    include : str, optional
        NumPy's include directory (default ``numpy.get_include()``).
    """
    include = np.get_include() if include is None else include
    lines = []
    if '_PyArray_DescrNumPy2' in _read_header(include, 'ndarraytypes.h'):
        lines += [
            '/* NumPy 2 layout of PyArray_Descr, with elsize. */',
            '#ifndef NPY_TARGET_VERSION',
            '#define NPY_TARGET_VERSION NPY_2_0_API_VERSION',
            '#endif',
        ]
    if 'define NPY_PY3K' not in _read_header(include, 'npy_3kcompat.h'):
        lines += [
            '/* What NumPy 1.x npy_3kcompat.h defined. */',
            '#ifndef NPY_PY3K',
            '#define NPY_PY3K 1',
            '#endif',
        ]
        for old, new in _PY2_NAMES:
            lines += ['#ifndef ' + old, '#define %s %s' % (old, new), '#endif']
    if not lines:
        return ''
    return '\n'.join(
        [
            '/* Written by seq2seq_lasagne.compat.numpy_c for Theano 1.0.5',
            ' * with the NumPy C headers in %s. */' % include,
            '#ifndef SEQ2SEQ_LASAGNE_NUMPY_C_H',
            '#define SEQ2SEQ_LASAGNE_NUMPY_C_H',
        ]
        + lines
        + ['#endif', '']
    )


class _Header(object):
    """The header file under Theano's compile directory, kept in place."""

    def __init__(self, text):
        self.text = text
        self.digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        self._path = None

    def path(self):
        if self._path is None:
            from theano import config

            self._path = os.path.join(
                config.compiledir,
                'seq2seq_lasagne',
                'numpy_c-%s.h' % self.digest,
            )
        if not os.path.exists(self._path):
            # A purged cache loses it: write it again, atomically, since
            # other processes may compile at the same time.
            os.makedirs(os.path.dirname(self._path), exist_ok=True)
            tmp = '%s.%d.tmp' % (self._path, os.getpid())
            with open(tmp, 'w') as f:
                f.write(self.text)
            os.replace(tmp, self._path)
        return self._path


def _wrap_compile_args(cmodule, header):
    compiler = cmodule.GCC_compiler
    original = compiler.compile_args

    def compile_args(*args, **kwargs):
        return original(*args, **kwargs) + ['-include' + header.path()]

    compile_args.__wrapped__ = original
    compile_args.__doc__ = original.__doc__
    compiler.compile_args = staticmethod(compile_args)


class _AfterCmodule(importlib.abc.MetaPathFinder):
    """Runs a callback on ``theano.gof.cmodule`` right after it executes."""

    def __init__(self, callback):
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != _CMODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_fix(module):
            exec_module(module)
            self.callback(module)

        spec.loader.exec_module = exec_then_fix  # this spec's loader only
        return spec


def install():
    """Hook the header into Theano's compiler (before ``import theano``).

    Returns
    -------
    finder : object or None
        The import hook to take out of ``sys.meta_path`` once Theano is
        imported (None when nothing was needed).
    changed : list of str
        What was changed.
    """
    text = header_text()
    if not text:
        return None, []
    header = _Header(text)
    if _CMODULE in sys.modules:
        _wrap_compile_args(sys.modules[_CMODULE], header)
        finder = None
    else:
        finder = _AfterCmodule(lambda m: _wrap_compile_args(m, header))
        sys.meta_path.insert(0, finder)
    return finder, [
        'C code built against NumPy %s headers through a '
        'forced-include header (NumPy 2 descr layout, Python 2 '
        'names)' % np.__version__
    ]
