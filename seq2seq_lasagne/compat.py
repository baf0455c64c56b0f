"""Make Theano 1.0.5 and Lasagne 0.1 run on Python 3.11 and NumPy 1.23.

This is the only place in the package that works around the legacy stack.
:func:`apply` is called once, by ``import seq2seq_lasagne``, before Theano
is imported.  It fills in only what the user has not set: a flag found in
``THEANO_FLAGS`` or in a ``.theanorc`` file (``THEANORC``) is left alone.

The fixes, each for a measured failure (see the README):

``blas.ldflags``
    Theano 1.0.5 probes ``numpy.distutils.__config__.blas_opt_info``, which
    modern NumPy no longer has, and import fails.  We link the OpenBLAS
    that SciPy's wheel ships (found next to SciPy); if it is not there, the
    flag is set empty, which makes Theano call BLAS through NumPy's C-API.
    That OpenBLAS is also set to one thread, unless ``OPENBLAS_NUM_THREADS``,
    ``GOTO_NUM_THREADS`` or ``OMP_NUM_THREADS`` is set: the lab's products
    are 10-40 wide, too small to share (1.0-1.07x on the attention model;
    see ``benchmarks/``).
``floatX``
    ``float32``, as the original lab and Theano's GPU backend use.
``gcc.cxxflags``
    ``-D__FAST_MATH__``: glibc's ``math.h`` then declares its vector math
    library (libmvec), so g++ vectorises the ``tanhf``/``expf`` loops of
    Theano's elementwise C code; the attention decoder's ``tanh`` runs
    about 20x faster (see the README's Speed section).  Unlike
    ``-ffast-math`` this links no ``crtfastmath`` (denormals keep working)
    and leaves IEEE semantics alone; libmvec's results are within 4 ulp.
``Scan.execute``: the reused-output check
    After each step, scan's Python loop asks whether the inner function
    wrote its output into the buffer slice it was handed: the same array
    object as before (``is``) and the same ``ndarray.data``.  On Python 2
    ``.data`` was a buffer object, compared with ``memcmp``; on Python 3 it
    is a ``memoryview``, and comparing two of them unpacks and compares
    every element in Python's struct code.  The gradient of the attention
    decoder compares its (batch, input length, 20) accumulators that way at
    every step: about 12 ms of a 70 ms training step.  The second test is
    dropped, in the function's own source: an ndarray object keeps its
    buffer for life (Theano's ops allocate a new array rather than move an
    old one's data), so the identity test already answers the question.
    Values are unchanged; the loop is otherwise Theano's, and the original
    stays available as ``Scan.execute.__wrapped__``.
``theano.tensor.signal.downsample``
    Lasagne 0.1's ``pool.py`` imports this module, which Theano 0.9
    removed.  A stand-in forwarding ``max_pool_2d`` to
    ``theano.tensor.signal.pool.pool_2d`` is registered under that name.
``theano.scan_module.scan_perform_ext``
    Scan's shipped Cython C code does not compile on Python >= 3.11.  Each
    failed attempt costs a g++ run per scan node, and the failure is not an
    ``ImportError``, so Theano would not fall back.  Marking the module as
    absent makes Theano use scan's pure-Python loop straight away.
NumPy aliases
    ``np.bool``, ``np.int``, ... are restored only when the installed NumPy
    (>= 1.24) removed them.
``pkg_resources``
    Lasagne 0.1 reads its version through ``pkg_resources`` (setuptools <
    81), which now warns on import; it is imported here once, quietly, and
    its absence is reported with the fix.
"""

import configparser
import glob
import logging
import os
import sys
import types
import warnings

__all__ = [
    'apply',
    'changes',
    'user_flags',
    'scipy_openblas_ldflags',
    'scipy_openblas_path',
]

#: What :func:`apply` changed, one short phrase each, in order.
_changes = []
_applied = False

_NUMPY_ALIASES = {
    'bool': bool,
    'int': int,
    'float': float,
    'complex': complex,
    'object': object,
    'str': str,
}

_SCAN_EXT = 'theano.scan_module.scan_perform_ext'
_THREAD_VARS = ('OPENBLAS_NUM_THREADS', 'GOTO_NUM_THREADS', 'OMP_NUM_THREADS')
_DOWNSAMPLE = 'theano.tensor.signal.downsample'


def user_flags(environ=None):
    """Names of the Theano flags the user has already set.

    Parameters
    ----------
    environ : mapping, optional
        The environment to read (default ``os.environ``).

    Returns
    -------
    set of str
        Dotted flag names (``'floatX'``, ``'blas.ldflags'``) from
        ``THEANO_FLAGS`` and from every existing ``THEANORC`` file.
    """
    environ = os.environ if environ is None else environ
    names = set()
    for item in environ.get('THEANO_FLAGS', '').split(','):
        if '=' in item:
            names.add(item.split('=', 1)[0].strip())
    rc_files = environ.get('THEANORC', '~/.theanorc').split(os.pathsep)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # flag names are case sensitive (floatX)
    try:
        parser.read([os.path.expanduser(f) for f in rc_files])
    except configparser.Error as exc:
        warnings.warn(
            'seq2seq_lasagne.compat: cannot read .theanorc: %s' % exc
        )
    for section in parser.sections():
        for key in parser[section]:
            names.add(key if section == 'global' else section + '.' + key)
    return names


def scipy_openblas_path():
    """Path of the OpenBLAS bundled in SciPy's wheel, or ``None``."""
    import importlib.util

    spec = importlib.util.find_spec('scipy')
    if spec is None or not spec.submodule_search_locations:
        return None
    libdir = os.path.join(
        os.path.dirname(list(spec.submodule_search_locations)[0]), 'scipy.libs'
    )
    found = sorted(glob.glob(os.path.join(libdir, 'libopenblas*.so')))
    return found[0] if found else None


def scipy_openblas_ldflags():
    """Linker flags for the OpenBLAS bundled in SciPy's wheel, or ``''``.

    The library sits in ``site-packages/scipy.libs`` under a hashed file
    name, so it is linked by exact name (``-l:``) with an rpath.  The path
    is computed at run time and never written into a file.
    """
    path = scipy_openblas_path()
    if path is None or ' ' in path:
        return ''
    libdir, name = os.path.split(path)
    return '-L{0} -l:{1} -Wl,-rpath,{0}'.format(libdir, name)


def _fill_flags():
    """Add the missing flags to ``THEANO_FLAGS`` for Theano's import.

    Returns True when ``blas.ldflags`` is ours to set after the import.
    """
    already = user_flags()
    wanted = []
    if 'floatX' not in already:
        wanted.append(('floatX', 'float32'))
    if 'gcc.cxxflags' not in already:
        wanted.append(('gcc.cxxflags', '-D__FAST_MATH__'))
    if 'blas.ldflags' not in already:
        # Empty for the import itself (this skips the broken probe); the
        # real value, whose rpath holds commas that THEANO_FLAGS cannot
        # carry, is set by _set_blas_ldflags once Theano is imported.
        wanted.append(('blas.ldflags', ''))
    if not wanted:
        return False
    added = ','.join('%s=%s' % kv for kv in wanted)
    current = os.environ.get('THEANO_FLAGS', '').strip(',')
    os.environ['THEANO_FLAGS'] = added + (',' + current if current else '')
    for key, value in wanted:
        if key != 'blas.ldflags':
            _changes.append('%s=%s' % (key, value))
    return 'blas.ldflags' not in already


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


def _set_blas_ldflags():
    import theano

    ldflags = scipy_openblas_ldflags()
    theano.config.blas.ldflags = ldflags
    _changes.append(
        'blas.ldflags=%s'
        % ("SciPy's OpenBLAS" if ldflags else '(empty: BLAS through NumPy)')
    )
    if ldflags and not any(os.environ.get(name) for name in _THREAD_VARS):
        # Theano's modules link this very file (same soname), so they
        # share the instance configured here.
        import ctypes

        try:
            ctypes.CDLL(scipy_openblas_path()).openblas_set_num_threads(1)
        except (OSError, AttributeError):
            return
        _changes.append("SciPy's OpenBLAS: 1 thread")


def _restore_numpy_aliases():
    import numpy as np

    missing = [name for name in _NUMPY_ALIASES if name not in np.__dict__]
    for name in missing:
        setattr(np, name, _NUMPY_ALIASES[name])
    if missing:
        _changes.append('numpy aliases restored: ' + ', '.join(missing))


def _disable_scan_cython():
    if sys.version_info >= (3, 11) and _SCAN_EXT not in sys.modules:
        # A None entry makes "import" raise ImportError, Theano's cue to
        # use the Python loop.
        sys.modules[_SCAN_EXT] = None
        _changes.append(
            'scan uses its Python loop (Cython core does not '
            'build on Python %d.%d)' % sys.version_info[:2]
        )


#: ``Scan.execute``'s buffer comparisons and what replaces them; each must
#: be found exactly ``count`` times.  ``old_data`` then holds the array
#: itself, and the test runs only after ``old_var is new_var``.
_SCAN_CHECKS = (
    ('= var.data\n', '= var\n', 2),
    ('(new_var.data == old_data)', '(new_var is old_data)', 3),
)


def _fix_scan_reuse_check():
    from theano.scan_module import scan_op

    execute = scan_op.Scan.execute
    if hasattr(execute, '__wrapped__'):
        return
    import inspect
    import textwrap

    try:
        lines, first = inspect.getsourcelines(execute)
    except (OSError, TypeError):
        return
    source = textwrap.dedent(''.join(lines))
    for old, new, count in _SCAN_CHECKS:
        if source.count(old) != count:
            warnings.warn(
                "seq2seq_lasagne.compat: Theano's Scan.execute "
                'is not the 1.0.5 one; its slow reused-output '
                'check is left as it is'
            )
            return
        source = source.replace(old, new)
    # Blank lines keep tracebacks on the original file's line numbers.
    code = compile(
        '\n' * (first - 1) + source, inspect.getsourcefile(execute), 'exec'
    )
    namespace = {}
    exec(code, scan_op.__dict__, namespace)
    fixed = namespace['execute']
    fixed.__wrapped__ = execute
    scan_op.Scan.execute = fixed
    _changes.append(
        "scan's reused-output check compares array objects, not contents"
    )


def _max_pool_2d(
    input, ds, ignore_border=None, st=None, padding=(0, 0), mode='max'
):
    """Theano 0.8's ``downsample.max_pool_2d`` signature on ``pool_2d``."""
    from theano.tensor.signal import pool

    return pool.pool_2d(
        input,
        ws=ds,
        ignore_border=ignore_border,
        stride=st,
        pad=padding,
        mode=mode,
    )


def _quiet_pkg_resources():
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore',
            message='pkg_resources is deprecated',
            category=UserWarning,
        )
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            raise ImportError(
                'Lasagne 0.1 needs pkg_resources, which '
                'setuptools 81 removed: pip install '
                '"setuptools==80.9.0"'
            )


def _register_downsample():
    if _DOWNSAMPLE in sys.modules:
        return
    import theano.tensor.signal

    module = types.ModuleType(
        _DOWNSAMPLE,
        'Stand-in for Theano 0.8 downsample (registered by seq2seq_lasagne)',
    )
    module.max_pool_2d = _max_pool_2d
    sys.modules[_DOWNSAMPLE] = module
    theano.tensor.signal.downsample = module
    _changes.append('theano.tensor.signal.downsample stand-in for Lasagne 0.1')


def apply():
    """Apply every fix once; later calls do nothing.

    Returns
    -------
    list of str
        What was changed (see :func:`changes`).
    """
    global _applied
    if _applied:
        return changes()
    _applied = True
    user_value = os.environ.get('THEANO_FLAGS')
    if 'theano' in sys.modules:
        warnings.warn(
            'seq2seq_lasagne was imported after theano: its '
            'Theano flag defaults could not be applied'
        )
        fill_blas = False
    else:
        fill_blas = _fill_flags()
    _restore_numpy_aliases()
    _disable_scan_cython()
    if fill_blas:
        logging.getLogger('theano.tensor.blas').addFilter(_DropMessages())
    with warnings.catch_warnings():
        # Theano 1.0.5 touches np.bool & co., deprecated in NumPy 1.20+.
        warnings.simplefilter('ignore', DeprecationWarning)
        warnings.simplefilter('ignore', FutureWarning)
        try:
            import theano  # noqa: F401  (reads THEANO_FLAGS now)
        finally:
            # Theano has read the flags; child processes (a Jupyter
            # kernel, a test's subprocess) must see the user's own.
            if user_value is None:
                os.environ.pop('THEANO_FLAGS', None)
            else:
                os.environ['THEANO_FLAGS'] = user_value
    if fill_blas:
        _set_blas_ldflags()
    _fix_scan_reuse_check()
    _register_downsample()
    _quiet_pkg_resources()
    return changes()


def changes():
    """What :func:`apply` changed, as a list of short phrases."""
    return list(_changes)
