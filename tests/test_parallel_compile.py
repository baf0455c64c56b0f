"""compat.parallel_compile: a graph's missing C modules compiled together.

It must change when modules are compiled, never what they are: the same
values, the same modules under the same cache keys (a process compiling
one at a time finds every module compiled in parallel), nothing left in
its own folder, and modules really taken from the pool.
"""

import os
import textwrap

import pytest
from child import run_child

from seq2seq_lasagne.compat import parallel_compile

# In a child: compile, in a fresh compile directory, a graph with a scan
# (an inner function linked inside the outer one) and several op kinds.
CHILD = textwrap.dedent(
    """
    import glob, json, os
    import numpy as np
    import seq2seq_lasagne
    import theano, theano.tensor as T
    from seq2seq_lasagne.compat import parallel_compile

    x, w = T.fmatrix('x'), T.fmatrix('w')
    h, _ = theano.scan(
        lambda row, prev: T.tanh(T.dot(prev, w) + row),
        sequences=x, outputs_info=T.zeros_like(x[0]),
    )
    cost = (h ** 2).sum() + T.nnet.softmax(x).max()
    f = theano.function([x, w], [cost, T.grad(cost, w)])
    a = np.linspace(-1, 1, 12, dtype='float32').reshape(4, 3)
    b = np.linspace(0, 0.5, 9, dtype='float32').reshape(3, 3)
    got = f(a, b)
    ahead = os.path.join(theano.config.compiledir, parallel_compile.FOLDER)
    print('RESULT ' + json.dumps({
        'stats': parallel_compile.stats,
        'values': [float(got[0]), float(got[1].sum())],
        'modules': sorted(
            os.path.basename(os.path.dirname(p)) for p in glob.glob(
                os.path.join(theano.config.compiledir, '*', 'mod.cpp'))
        ),
        'left': sorted(
            set(os.listdir(ahead) if os.path.isdir(ahead) else [])
            - {parallel_compile.MARKER}
        ),
    }))
    """
)


def _child(compiledir, parallel):
    return run_child(
        CHILD, compiledir, **{parallel_compile.ENV: '1' if parallel else '0'}
    )


def test_a_module_is_taken_only_for_the_very_same_call():
    args = ['m1', 'int main;', ['/inc'], ['/lib'], ['blas'], ['-O3'], True]
    key = parallel_compile.call_key(*args)
    assert parallel_compile.call_key(*args) == key
    for i, other in enumerate(
        ['m2', 'int main ;', ['/inc2'], [], ['cblas'], ['-O2'], False]
    ):
        changed = list(args)
        changed[i] = other
        assert parallel_compile.call_key(*changed) != key, i
    # Arguments are not run together: ['a', 'b'] is not ['a b'].
    joined = list(args)
    joined[5] = ['-O3 -g']
    split = list(args)
    split[5] = ['-O3', '-g']
    assert parallel_compile.call_key(*joined) != parallel_compile.call_key(
        *split
    )


def test_one_core_keeps_theanos_order(monkeypatch):
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0})
    assert parallel_compile.workers() == 1
    # install() is then a no-op (and says nothing in doctor's list).
    monkeypatch.setattr(parallel_compile, 'workers', lambda: 1, raising=True)
    assert parallel_compile.install() == []


@pytest.mark.slow
def test_modules_come_from_the_pool_and_stay_theanos(tmp_path):
    together = _child(tmp_path / 'a', parallel=True)
    stats = together['stats']
    # Outer graph and scan's inner graphs each looked ahead; most modules
    # came from the pool, none failed, nothing was left behind.
    assert stats['graphs'] >= 2
    assert stats['queued'] >= 5
    assert stats['used'] >= stats['queued'] // 2
    assert stats['used'] + stats['taken_back'] <= stats['queued']
    assert stats['failed'] == 0
    assert together['left'] == []
    alone = _child(tmp_path / 'b', parallel=False)
    assert alone['stats']['queued'] == 0
    assert together['values'] == alone['values']
    assert len(together['modules']) == len(alone['modules'])
    # The same cache keys: a process compiling one at a time, in the first
    # directory, finds every module and compiles none.
    again = _child(tmp_path / 'a', parallel=False)
    assert again['modules'] == together['modules']
    assert again['values'] == together['values']


@pytest.mark.parametrize('marked', [True, False])
def test_theanos_cache_refresh_keeps_the_folder_only_when_marked(
    tmp_path, marked
):
    """Theano's refresh deletes an empty folder of the compile directory:
    the marker keeps the look-ahead folder from being one, so that two
    processes on one cache do not race to delete it."""
    from theano.gof.cmodule import ModuleCache

    root = tmp_path / parallel_compile.FOLDER
    root.mkdir()
    if marked:
        parallel_compile._mark(str(root))
    ModuleCache(str(tmp_path), check_for_broken_eq=False).refresh()
    assert root.is_dir() == marked
