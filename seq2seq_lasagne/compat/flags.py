"""Theano flags: which ones the user set, and the defaults we fill in.

``floatX``
    ``float32``, as the original lab and Theano's GPU backend use.
``gcc.cxxflags``
    ``-D__FAST_MATH__``: glibc's ``math.h`` then declares its vector math
    library (libmvec), so g++ vectorises the ``tanhf``/``expf`` loops of
    Theano's elementwise C code instead of calling the scalar function
    once per element, which dominates the attention decoder's ``tanh``
    (the ``no_fast_math`` lever of ``benchmarks/bench_driver.py``
    measures it; ``benchmarks/README.md`` holds the figures).  Unlike
    ``-ffast-math`` this links no ``crtfastmath`` (denormals keep working)
    and leaves IEEE semantics alone; libmvec's results are within 4 ulp.
``blas.ldflags``
    Empty while Theano is imported: its default probes
    ``numpy.distutils.__config__.blas_opt_info``, which modern NumPy no
    longer has, and the import fails.  :mod:`.blas` sets the real value
    right after the import.

A flag found in ``THEANO_FLAGS`` or in a ``.theanorc`` file (``THEANORC``)
is never changed, and ``THEANO_FLAGS`` is put back as the user had it
once Theano has read it (:func:`restore_environment`).
"""

import configparser
import os
import warnings

__all__ = ['user_flags', 'fill_flags', 'restore_environment']

_DEFAULTS = (('floatX', 'float32'), ('gcc.cxxflags', '-D__FAST_MATH__'))


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


def fill_flags():
    """Add the flags the user did not set to ``THEANO_FLAGS``.

    Call before Theano is imported, and :func:`restore_environment` with
    the returned value once it has been.

    Returns
    -------
    saved : str or None
        The user's own ``THEANO_FLAGS`` (None when unset).
    changed : list of str
        ``'name=value'`` of each default added (``blas.ldflags`` left out:
        it is only a placeholder here).
    blas_is_ours : bool
        True when ``blas.ldflags`` is ours to set after the import.
    """
    already = user_flags()
    saved = os.environ.get('THEANO_FLAGS')
    wanted = [(k, v) for k, v in _DEFAULTS if k not in already]
    blas_is_ours = 'blas.ldflags' not in already
    if blas_is_ours:
        # The real value, whose rpath holds commas that THEANO_FLAGS cannot
        # carry, is set once Theano is imported.
        wanted.append(('blas.ldflags', ''))
    if wanted:
        added = ','.join('%s=%s' % kv for kv in wanted)
        current = (saved or '').strip(',')
        os.environ['THEANO_FLAGS'] = added + (',' + current if current else '')
    changed = ['%s=%s' % kv for kv in wanted if kv[0] != 'blas.ldflags']
    return saved, changed, blas_is_ours


def restore_environment(saved):
    """Put ``THEANO_FLAGS`` back as the user had it.

    Theano has read the flags by now; child processes (a Jupyter kernel, a
    test's subprocess) must see the user's own.
    """
    if saved is None:
        os.environ.pop('THEANO_FLAGS', None)
    else:
        os.environ['THEANO_FLAGS'] = saved
