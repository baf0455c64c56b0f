"""What Lasagne 0.1 needs from today's Theano and setuptools.

``theano.tensor.signal.downsample``
    Lasagne 0.1's ``pool.py`` imports this module, which Theano 0.9
    removed.  A stand-in forwarding ``max_pool_2d`` to
    ``theano.tensor.signal.pool.pool_2d`` is registered under that name.
``pkg_resources``
    Lasagne 0.1 reads its version through ``pkg_resources`` (setuptools <
    81), which now warns on import; it is imported here once, quietly, and
    its absence is reported with the fix.
"""

import sys
import types
import warnings

__all__ = ['register_downsample', 'quiet_pkg_resources']

_DOWNSAMPLE = 'theano.tensor.signal.downsample'


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


def register_downsample():
    """Register the stand-in module (after Theano's import)."""
    if _DOWNSAMPLE in sys.modules:
        return []
    import theano.tensor.signal

    module = types.ModuleType(
        _DOWNSAMPLE,
        'Stand-in for Theano 0.8 downsample (registered by seq2seq_lasagne)',
    )
    module.max_pool_2d = _max_pool_2d
    sys.modules[_DOWNSAMPLE] = module
    theano.tensor.signal.downsample = module
    return ['theano.tensor.signal.downsample stand-in for Lasagne 0.1']


def quiet_pkg_resources():
    """Import ``pkg_resources`` without its deprecation warning."""
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
    return []
