"""The compatibility module: fills only missing flags, fixes the imports."""
import dis
import os
import subprocess
import sys
import textwrap

import numpy as np

from seq2seq_lasagne import compat


def run_python(code, **env_changes):
    env = dict(os.environ)
    env.pop('THEANO_FLAGS', None)
    env.update(env_changes)
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


REPORT = '''
import os, seq2seq_lasagne, theano
print(theano.config.floatX)
print(repr(theano.config.blas.ldflags))
print(os.environ.get('THEANO_FLAGS'))
print(seq2seq_lasagne.compat.changes())
'''


def test_fills_missing_flags_and_restores_environment(tmp_path):
    floatx, ldflags, env, changes = run_python(
        REPORT, THEANORC=str(tmp_path / 'none'))
    assert floatx == 'float32'
    assert 'openblas' in ldflags
    assert env == 'None'  # child processes see the user's flags, not ours
    assert 'floatX=float32' in changes


def test_keeps_flags_set_in_theano_flags(tmp_path):
    floatx, ldflags, env, changes = run_python(
        REPORT, THEANO_FLAGS='floatX=float64,blas.ldflags=',
        THEANORC=str(tmp_path / 'none'))
    assert floatx == 'float64' and ldflags == "''"
    assert env == 'floatX=float64,blas.ldflags='
    assert 'floatX' not in changes and 'blas.ldflags' not in changes


def test_keeps_flags_set_in_theanorc(tmp_path):
    rc = tmp_path / 'theanorc'
    rc.write_text('[global]\nfloatX = float64\n\n[blas]\nldflags =\n')
    floatx, ldflags, _, _ = run_python(REPORT, THEANORC=str(rc))
    assert floatx == 'float64' and ldflags == "''"


def test_user_flags_parser(tmp_path):
    rc = tmp_path / 'rc'
    rc.write_text('[global]\ndevice = cpu\n[gpuarray]\npreallocate = 0.5\n')
    names = compat.user_flags({'THEANO_FLAGS': 'floatX=float32, mode=FAST_RUN',
                               'THEANORC': str(rc)})
    assert names == {'floatX', 'mode', 'device', 'gpuarray.preallocate'}


def test_plain_theano_and_lasagne_work_after_import():
    # Lasagne 0.1's pooling layers import theano.tensor.signal.downsample;
    # the notebook's own layer code runs unmodified.
    import lasagne
    import theano
    import theano.tensor as T
    l_in = lasagne.layers.InputLayer((None, 1, 4, 4))
    l_pool = lasagne.layers.MaxPool2DLayer(l_in, pool_size=2)
    x = T.tensor4()
    f = theano.function([x], lasagne.layers.get_output(l_pool, x))
    value = np.arange(16, dtype='float32').reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(f(value)[0, 0], [[5, 7], [13, 15]])


def test_scan_runs_its_python_loop():
    import theano
    import theano.tensor as T
    assert sys.modules['theano.scan_module.scan_perform_ext'] is None
    k = T.iscalar()
    result, _ = theano.scan(lambda prev: prev * 2, outputs_info=T.ones(()),
                            n_steps=k)
    assert theano.function([k], result[-1])(5) == 32


def test_scan_reuse_check_does_not_compare_contents():
    # Theano 1.0.5 compares ndarray.data memoryviews element by element on
    # Python 3; the fixed loop tests the array object only and computes the
    # same.
    import theano
    import theano.tensor as T
    from theano.scan_module.scan_op import Scan
    fixed, original = Scan.execute, Scan.execute.__wrapped__
    def data_reads(function):
        return sum(1 for ins in dis.get_instructions(function)
                   if ins.opname == 'LOAD_ATTR' and ins.argval == 'data')

    # .data: 2 records and 3 comparisons gone, the update of shared inputs
    # (storage.data = ...) kept.
    assert data_reads(original) - data_reads(fixed) == 5
    assert fixed.__code__.co_firstlineno == original.__code__.co_firstlineno
    compat.scan.fix_reuse_check()  # a second call does not wrap again
    assert Scan.execute is fixed

    # Two recurrent states, all steps kept (preallocated outputs that the
    # inner function writes into) and last step only.
    x0, w = T.matrix(), T.matrix()
    states, _ = theano.scan(lambda h, acc: (T.tanh(T.dot(h, w)), acc + h),
                            outputs_info=[x0, T.zeros_like(x0)], n_steps=6)
    f = theano.function([x0, w], [states[0], states[1][-1]])
    rng = np.random.RandomState(0)
    h = rng.randn(5, 4).astype(theano.config.floatX)
    wv = rng.randn(4, 4).astype(theano.config.floatX)
    hs, acc = f(h, wv)
    expect, total = [], np.zeros_like(h)
    for _ in range(6):
        total = total + h
        h = np.tanh(h.dot(wv))
        expect.append(h)
    np.testing.assert_allclose(hs, expect, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acc, total, rtol=1e-5, atol=1e-6)


def test_apply_is_idempotent():
    before = compat.changes()
    assert compat.apply() == before


THREADS = '''
import ctypes
import numpy as np
import seq2seq_lasagne
import theano
import theano.tensor as T
from seq2seq_lasagne import compat
x = T.matrix()
theano.function([x], T.dot(x, x))(np.ones((64, 64), 'float32'))
path = compat.scipy_openblas_path()
prefix = compat.blas.symbol_prefix(path)
print(getattr(ctypes.CDLL(path), prefix + 'openblas_get_num_threads')())
print(compat.changes())
'''
NO_THREAD_VARS = {name: '' for name in compat.blas.THREAD_VARS}


def test_openblas_runs_one_thread_by_default(tmp_path):
    threads, changes = run_python(THREADS, THEANORC=str(tmp_path / 'none'),
                                  **NO_THREAD_VARS)
    assert threads == '1'
    assert "SciPy's OpenBLAS: 1 thread" in changes


def test_openblas_threads_set_by_the_user_are_kept(tmp_path):
    env = dict(NO_THREAD_VARS, OPENBLAS_NUM_THREADS='2')
    threads, changes = run_python(THREADS, THEANORC=str(tmp_path / 'none'),
                                  **env)
    assert int(threads) == min(2, os.cpu_count())
    assert '1 thread' not in changes
