"""How the package compiles its Theano functions.

Two things about the lab's graphs that Theano's defaults get wrong, kept
here so that :mod:`seq2seq_lasagne.training` reads as the recipe only:

* :func:`deep_graph_recursion`: the decoder unrolled with
  ``unroll_scan=True`` is too deep for Python's default recursion limit.
* :func:`scan_keeps_buffers`: scans that keep their arrays between calls
  train faster, without the leak that Theano 1.0.5 has when the outer graph
  keeps its arrays too.
"""

import contextlib
import sys

import theano

from .compat import user_flags

__all__ = [
    'GRAPH_RECURSION_LIMIT',
    'deep_graph_recursion',
    'scan_keeps_buffers',
]

#: Python's recursion limit while building and compiling a training graph.
#: ``T.grad`` and Theano's optimizer recurse once per graph level, and the
#: decoder unrolled with ``unroll_scan=True`` is ~21 steps deep in
#: thousands of nodes: the default 1000 gives a RecursionError.
GRAPH_RECURSION_LIMIT = 50000


@contextlib.contextmanager
def deep_graph_recursion():
    """Raise Python's recursion limit for the duration of the block."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, GRAPH_RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@contextlib.contextmanager
def scan_keeps_buffers():
    """Compile so that scans keep their inner arrays between calls.

    Yields the mode to compile with, or ``None`` (Theano's default mode)
    when the user chose ``allow_gc`` themselves: in their flags, or by
    setting ``theano.config.allow_gc = False`` in the program.

    With Theano's default ``allow_gc=True`` every scan frees its inner
    function's arrays after each call, so each training step reallocates
    them all (``benchmarks/``, lever ``scan_frees_buffers``).  A scan
    decides this from ``config.allow_gc`` when it is compiled, so the flag
    is ``False`` only while compiling, and the function's own linker keeps
    ``allow_gc=True``: the outer graph's arrays are still freed after each
    call.  Keeping those too (``allow_gc=False`` everywhere) leaks in
    Theano 1.0.5 whenever the input length changes
    (``benchmarks/memory_growth.py``); the scans' arrays do not.
    """
    if 'allow_gc' in user_flags() or not theano.config.allow_gc:
        yield None
        return
    mode = theano.compile.mode.get_default_mode().clone(
        link_kwargs=dict(allow_gc=True)
    )
    with theano.configparser.change_flags(allow_gc=False):
        yield mode
