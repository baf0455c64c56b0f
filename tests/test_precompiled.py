"""compat.precompiled: Theano's C modules built with a precompiled header.

The header must change how fast g++ reads a module, never what the module
is: the same values, the same cache keys (a process without the header
finds the modules compiled with it), and g++ must really use the compiled
form, not silently parse the text (``-H`` marks a used one with ``!``).
"""

import textwrap

import pytest
from child import run_child

from seq2seq_lasagne.compat import precompiled

# In a child: compile a graph of several op kinds (elementwise, a fused
# loop, a BLAS product, softmax) in a fresh compile directory, and report.
CHILD = textwrap.dedent(
    """
    import glob, json, os, subprocess, sys
    import numpy as np
    import seq2seq_lasagne
    import theano, theano.tensor as T
    from seq2seq_lasagne.compat import precompiled

    x, y = T.fmatrix('x'), T.fmatrix('y')
    f = theano.function(
        [x, y], [T.tanh(x).dot(y) * 2 + T.exp(y).sum(), T.nnet.softmax(x)]
    )
    a = np.linspace(-1, 1, 12, dtype='float32').reshape(3, 4)
    b = np.linspace(0, 1, 12, dtype='float32').reshape(4, 3)
    got = f(a, b)
    used = None
    if precompiled.stats['last']:
        header, flags = precompiled.stats['last']
        module = sorted(glob.glob(os.path.join(
            theano.config.compiledir, '*', 'mod.cpp')))[0]
        proc = subprocess.run(
            [theano.config.cxx, '-shared'] + flags
            + ['-include', header, '-H', module, '-o', os.devnull],
            capture_output=True, text=True)
        used = '! ' + header + '.gch' in proc.stderr.splitlines()
    print('RESULT ' + json.dumps({
        'stats': {k: v for k, v in precompiled.stats.items() if k != 'last'},
        'gch_used': used,
        'values': [float(got[0].sum()), float(got[1].sum())],
        'modules': len(glob.glob(os.path.join(
            theano.config.compiledir, '*', 'mod.cpp'))),
    }))
    """
)


def _child(compiledir, pch):
    return run_child(
        CHILD, compiledir, **{precompiled.ENV: '1' if pch else '0'}
    )


def test_the_header_holds_only_the_modules_own_opening_lines():
    common = '\n'.join(precompiled.COMMON)
    assert precompiled.opening_includes(common + '\nint x;') == (
        precompiled.COMMON
    )
    # A prefix only: a module opening otherwise gets a shorter header.
    assert precompiled.opening_includes(
        '#include <Python.h>\n#include <vector>\n#include <iostream>\n'
    ) == ('#include <Python.h>',)
    assert precompiled.opening_includes('// no includes\n') == ()


def test_a_forced_header_moves_into_the_precompiled_one():
    forced, rest = precompiled.split_forced(
        ['-O3', '-include/a/numpy2.h', '-fPIC', '-include', '/b/c.h', '-g']
    )
    assert forced == ['/a/numpy2.h', '/b/c.h']
    assert rest == ['-O3', '-fPIC', '-g']


def test_building_the_header_does_not_link():
    flags = precompiled.header_flags(
        ['-O3', '-Wl,-rpath,/x', '-lopenblas', '-L/x', '/x/libblas.so'],
        ['/inc'],
        True,
    )
    assert flags == ['-g', '-O3', '-I/inc', '-fvisibility=hidden']


def test_a_header_that_cannot_be_built_leaves_theanos_command(tmp_path):
    assert (
        precompiled.header_for(
            str(tmp_path), 'false', 'v', precompiled.COMMON, ['-g']
        )
        is None
    )
    folder = tmp_path / precompiled.FOLDER
    assert not list(folder.glob('*/*.gch*'))


@pytest.mark.slow
def test_modules_use_the_header_and_stay_theanos(tmp_path):
    with_pch = _child(tmp_path / 'a', pch=True)
    # One header per command line: the BLAS product's adds options (on
    # NumPy 2 its -D renames of SciPy's prefixed OpenBLAS symbols).
    assert 1 <= with_pch['stats']['built'] <= 2
    assert with_pch['stats']['used'] >= 3 + with_pch['stats']['built']
    assert with_pch['stats']['failed'] == 0
    assert with_pch['gch_used'] is True
    # The same values as without it, in a compile directory of its own.
    without = _child(tmp_path / 'b', pch=False)
    assert without['stats']['used'] == 0
    assert with_pch['values'] == without['values']
    assert with_pch['modules'] == without['modules']
    # The same cache keys: a process without the header, in the first
    # directory, finds every module and compiles none.
    again = _child(tmp_path / 'a', pch=False)
    assert again['modules'] == with_pch['modules']
    assert again['values'] == with_pch['values']
