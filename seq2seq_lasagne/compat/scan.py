"""Theano's ``scan`` on Python 3.

``theano.scan_module.scan_perform_ext``
    Scan's shipped Cython C code does not compile on Python >= 3.11.  Each
    failed attempt costs a g++ run per scan node, and the failure is not an
    ``ImportError``, so Theano would not fall back.  Marking the module as
    absent makes Theano use scan's pure-Python loop straight away.
``Scan.make_thunk``: which loop, on Python 3.10
    Where the Cython core builds (Python 3.10), it still makes the slow
    check below, compiled, where it cannot be fixed.  A scan whose step
    carries a state of three or more dimensions (the attention gradient's
    accumulators over the whole input sequence, batch by position by unit)
    pays it on a whole sequence's worth of elements at every step, and
    runs faster in the fixed Python loop; a scan whose states are smaller
    runs faster in the Cython core (``benchmarks/python_matrix_speed.py
    --scan-cython-peer`` measures both, docs/PYTHONS.md holds the figures).
    Such a scan is compiled with ``impl='py'``, Theano's own switch to its
    Python loop; the others are left to the Cython core.
``Scan.execute``: the reused-output check
    After each step, scan's Python loop asks whether the inner function
    wrote its output into the buffer slice it was handed: the same array
    object as before (``is``) and the same ``ndarray.data``.  On Python 2
    ``.data`` was a buffer object, compared with ``memcmp``; on Python 3 it
    is a ``memoryview``, and comparing two of them unpacks and compares
    every element in Python's struct code.  The gradient of the attention
    decoder compares its (batch, input length, 20) accumulators that way at
    every step, a Python-level cost that grows with the batch and the input
    length (the ``scan_memoryview_check`` lever of
    ``benchmarks/bench_driver.py`` measures its share of a training step;
    ``benchmarks/README.md`` holds the figures).  The second test is
    dropped, in the function's own source: an ndarray object keeps its
    buffer for life (Theano's ops allocate a new array rather than move an
    old one's data), so the identity test already answers the question.
    Values are unchanged; the loop is otherwise Theano's, and the original
    stays available as ``Scan.execute.__wrapped__``.
"""

import inspect
import sys
import textwrap
import warnings

__all__ = [
    'disable_cython',
    'fix_reuse_check',
    'route_sequence_states',
    'SCAN_EXT',
    'STATE_NDIM',
]

SCAN_EXT = 'theano.scan_module.scan_perform_ext'
#: A step's state of this many dimensions or more sends its scan to the
#: Python loop where the Cython core is in use.
STATE_NDIM = 3

#: ``Scan.execute``'s buffer comparisons and what replaces them; each must
#: be found exactly ``count`` times.  ``old_data`` then holds the array
#: itself, and the test runs only after ``old_var is new_var``.
_CHECKS = (
    ('= var.data\n', '= var\n', 2),
    ('(new_var.data == old_data)', '(new_var is old_data)', 3),
)


def disable_cython():
    """Make scan use its Python loop (before Theano is imported)."""
    if sys.version_info >= (3, 11) and SCAN_EXT not in sys.modules:
        # A None entry makes "import" raise ImportError, Theano's cue to
        # use the Python loop.
        sys.modules[SCAN_EXT] = None
        return [
            'scan uses its Python loop (Cython core does not build on '
            'Python %d.%d)' % sys.version_info[:2]
        ]
    return []


def fix_reuse_check():
    """Replace ``Scan.execute`` by its fixed copy, once."""
    from theano.scan_module import scan_op

    execute = scan_op.Scan.execute
    if hasattr(execute, '__wrapped__'):
        return []
    try:
        lines, first = inspect.getsourcelines(execute)
    except (OSError, TypeError):
        return []
    source = textwrap.dedent(''.join(lines))
    for old, new, count in _CHECKS:
        if source.count(old) != count:
            warnings.warn(
                "seq2seq_lasagne.compat: Theano's Scan.execute "
                'is not the 1.0.5 one; its slow reused-output '
                'check is left as it is'
            )
            return []
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
    return ["scan's reused-output check compares array objects, not contents"]


def carries_sequence_state(op):
    """Whether a step of scan ``op`` carries a state of
    :data:`STATE_NDIM` dimensions or more (its mit-mot, mit-sot and
    sit-sot outputs, as the inner function returns them)."""
    states = op.outputs[: op.n_mit_mot_outs + op.n_mit_sot + op.n_sit_sot]
    return any(getattr(v.type, 'ndim', 0) >= STATE_NDIM for v in states)


def route_sequence_states():
    """Send scans with large states to the fixed Python loop, once, where
    the Cython core is in use."""
    from theano.scan_module import scan_op

    shipped = scan_op.Scan.make_thunk
    if sys.modules.get(SCAN_EXT, 0) is None or hasattr(shipped, '__wrapped__'):
        return []
    if not hasattr(scan_op.Scan.execute, '__wrapped__'):
        return []  # the Python loop is not the fixed one: no gain

    def make_thunk(
        self, node, storage_map, compute_map, no_recycling, impl=None
    ):
        if impl is None and carries_sequence_state(self):
            impl = 'py'
        return shipped(
            self, node, storage_map, compute_map, no_recycling, impl=impl
        )

    make_thunk.__wrapped__ = shipped
    scan_op.Scan.make_thunk = make_thunk
    return [
        'scans whose step carries a %d-D state run the Python loop, '
        'the others the Cython core (its reused-output check compares '
        'large states element by element)' % STATE_NDIM
    ]
