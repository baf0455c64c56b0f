"""The compatibility module: fills only missing flags, fixes the imports."""

import dis
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from seq2seq_lasagne import compat


def run_python(code, **env_changes):
    env = dict(os.environ)
    env.pop('THEANO_FLAGS', None)
    env.update(env_changes)
    proc = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


REPORT = """
import os, seq2seq_lasagne, theano
print(theano.config.floatX)
print(repr(theano.config.blas.ldflags))
print(os.environ.get('THEANO_FLAGS'))
print(seq2seq_lasagne.compat.changes())
"""


def test_fills_missing_flags_and_restores_environment(tmp_path):
    floatx, ldflags, env, changes = run_python(
        REPORT, THEANORC=str(tmp_path / 'none')
    )
    assert floatx == 'float32'
    assert 'openblas' in ldflags
    assert env == 'None'  # child processes see the user's flags, not ours
    assert 'floatX=float32' in changes


def test_keeps_flags_set_in_theano_flags(tmp_path):
    floatx, ldflags, env, changes = run_python(
        REPORT,
        THEANO_FLAGS='floatX=float64,blas.ldflags=',
        THEANORC=str(tmp_path / 'none'),
    )
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
    names = compat.user_flags(
        {'THEANO_FLAGS': 'floatX=float32, mode=FAST_RUN', 'THEANORC': str(rc)}
    )
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


def test_scan_runs_its_python_loop_where_cython_does_not_build():
    import theano
    import theano.tensor as T

    k = T.iscalar()
    result, _ = theano.scan(
        lambda prev: prev * 2, outputs_info=T.ones(()), n_steps=k
    )
    assert theano.function([k], result[-1])(5) == 32
    # Compiling the scan has looked for its Cython core by now.
    ext = sys.modules.get('theano.scan_module.scan_perform_ext')
    if sys.version_info >= (3, 11):
        assert ext is None
    else:
        # Python 3.10: scan's shipped Cython core builds, and is used.
        assert ext is not None


def test_scans_with_large_states_run_the_fixed_python_loop():
    import theano
    import theano.tensor as T
    from theano.scan_module.scan_op import Scan

    def loop_of(state):
        out, _ = theano.scan(
            lambda prev: prev * 2, outputs_info=state, n_steps=3
        )
        f = theano.function([state], out[-1])
        (thunk,) = [
            t
            for n, t in zip(f.fn.nodes, f.fn.thunks)
            if isinstance(n.op, Scan)
        ]
        value = f(np.ones((2,) * state.ndim, dtype='float32'))
        assert np.all(value == 8)
        # Theano's thunk keeps the loop it runs: Scan.execute (the Python
        # loop) or the Cython core's closure.
        return getattr(thunk.perform, '__name__', None)

    assert loop_of(T.ftensor3()) == 'execute'
    small = loop_of(T.fmatrix())
    if sys.version_info >= (3, 11):
        assert small == 'execute'
    else:
        # Python 3.10: the Cython core builds and keeps the small states.
        assert small != 'execute'


def test_scan_reuse_check_does_not_compare_contents():
    # Theano 1.0.5 compares ndarray.data memoryviews element by element on
    # Python 3; the fixed loop tests the array object only and computes the
    # same.
    import theano
    import theano.tensor as T
    from theano.scan_module.scan_op import Scan

    fixed, original = Scan.execute, Scan.execute.__wrapped__

    def data_reads(function):
        return sum(
            1
            for ins in dis.get_instructions(function)
            if ins.opname == 'LOAD_ATTR' and ins.argval == 'data'
        )

    # .data: 2 records and 3 comparisons gone, the update of shared inputs
    # (storage.data = ...) kept.
    assert data_reads(original) - data_reads(fixed) == 5
    assert fixed.__code__.co_firstlineno == original.__code__.co_firstlineno
    compat.scan.fix_reuse_check()  # a second call does not wrap again
    assert Scan.execute is fixed

    # Two recurrent states, all steps kept (preallocated outputs that the
    # inner function writes into) and last step only.
    x0, w = T.matrix(), T.matrix()
    states, _ = theano.scan(
        lambda h, acc: (T.tanh(T.dot(h, w)), acc + h),
        outputs_info=[x0, T.zeros_like(x0)],
        n_steps=6,
    )
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


THREADS = """
import ctypes
import numpy as np
import pytest
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
"""
NO_THREAD_VARS = {name: '' for name in compat.blas.THREAD_VARS}


@pytest.mark.slow
def test_openblas_runs_one_thread_by_default(tmp_path):
    threads, changes = run_python(
        THREADS, THEANORC=str(tmp_path / 'none'), **NO_THREAD_VARS
    )
    assert threads == '1'
    assert "SciPy's OpenBLAS: 1 thread" in changes


@pytest.mark.slow
def test_openblas_threads_set_by_the_user_are_kept(tmp_path):
    env = dict(NO_THREAD_VARS, OPENBLAS_NUM_THREADS='2')
    threads, changes = run_python(
        THREADS, THEANORC=str(tmp_path / 'none'), **env
    )
    assert int(threads) == min(2, os.cpu_count())
    assert '1 thread' not in changes


# Python 3.12+ and NumPy 2 (docs/PYTHONS.md) --------------------------------


def test_numpy_names_removed_in_numpy_2_behave_as_in_numpy_1():
    # NumPy 1.23's own functions on Python 3.10/3.11, compat's on NumPy 2.
    assert np.sctype2char(np.float32) == 'f'
    assert np.sctype2char('int64') == 'l'
    cast = np.cast['int32']([1.7, -2.2])
    assert cast.dtype == np.int32 and cast.tolist() == [1, -2]
    assert np.cast[np.float32](2).dtype == np.float32
    assert np.product([2, 3, 4]) == 24


def test_stand_ins_are_not_left_for_other_code():
    # numpy.distutils, imp and numpy.linalg.linalg: Theano keeps its
    # references, everything else still finds them absent.
    import importlib.util

    changes = compat.changes()
    if any('numpy.distutils stand-in' in c for c in changes):
        assert importlib.util.find_spec('numpy.distutils') is None
    if any('imp' in c.split() for c in changes):
        assert 'imp' not in sys.modules
        assert importlib.util.find_spec('imp') is None
    if any('numpy.linalg.linalg' in c for c in changes):
        assert 'numpy.linalg.linalg' not in sys.modules
    # Theano's module got a working imp.find_module either way.
    import theano.tests.breakpoint as breakpoint

    assert breakpoint.imp.find_module('json')
    with pytest.raises(ImportError):
        breakpoint.imp.find_module('no_such_module_here')


def test_a_gpu_device_imports_theano_gpuarray_with_the_stand_ins(tmp_path):
    # device=cuda makes "import theano" itself import theano.gpuarray,
    # which needs imp on Python 3.12+ (and numpy.linalg.linalg on NumPy 2.x
    # releases without it).  Without a GPU, Theano logs the failed start
    # and goes on; the import must not fail on a missing module.
    missing, imported, changes = run_python(
        """
        import importlib.util, sys, seq2seq_lasagne

        def gone(name):
            try:
                return importlib.util.find_spec(name) is None
            except ImportError:
                return True

        print(gone('imp') or gone('numpy.linalg.linalg'))
        print('theano.gpuarray' in sys.modules)
        print(seq2seq_lasagne.compat.changes())
        """,
        THEANORC=str(tmp_path / 'none'),
        THEANO_FLAGS='device=cuda',
    )
    assert imported == 'True'
    assert ('stand-in for theano.gpuarray' in changes) == (missing == 'True')


def _fake_numpy_include(root, numpy2):
    numpy_dir = root / 'numpy'
    numpy_dir.mkdir(parents=True)
    (numpy_dir / 'npy_3kcompat.h').write_text(
        '#include <Python.h>\n'
        if numpy2
        else '#ifndef NPY_PY3K\n#define NPY_PY3K 1\n#endif\n'
    )
    (numpy_dir / 'ndarraytypes.h').write_text(
        '} _PyArray_DescrNumPy2;\n'
        if numpy2
        else 'typedef struct _PyArray_Descr { int elsize; } PyArray_Descr;\n'
    )
    return str(root)


def test_numpy_c_header_only_for_numpy_2_headers(tmp_path):
    from seq2seq_lasagne.compat import numpy_c

    assert (
        numpy_c.header_text(_fake_numpy_include(tmp_path / '1', False)) == ''
    )
    text = numpy_c.header_text(_fake_numpy_include(tmp_path / '2', True))
    assert '#define NPY_TARGET_VERSION NPY_2_0_API_VERSION' in text
    assert '#define NPY_PY3K 1' in text
    assert '#define PyInt_AsLong PyLong_AsLong' in text
    # The installed NumPy: the header exactly when compat reports it.
    reported = any('forced-include header' in c for c in compat.changes())
    assert bool(numpy_c.header_text()) == reported


def test_numpy_c_header_compiles_theano_c_code_with_elsize():
    # DimShuffle's C code reads PyArray_DESCR(x)->elsize; a transpose of a
    # non-contiguous view exercises it (and the lazy linker built at
    # import).
    import theano
    import theano.tensor as T

    x = T.tensor3()
    f = theano.function([x], x.dimshuffle(2, 'x', 0, 1) * 2)
    value = np.arange(24, dtype=theano.config.floatX).reshape(2, 3, 4)
    np.testing.assert_array_equal(
        f(value[:, ::2]), value[:, ::2].transpose(2, 0, 1)[:, None] * 2
    )


def test_blas_ops_use_scipys_openblas_whatever_its_symbol_names():
    # A prefixed OpenBLAS (scipy_sgemm_) linked without the -D renames
    # leaves the BLAS ops' modules with undefined symbols: they would not
    # load.  Here they load and compute.
    import theano
    import theano.tensor as T

    from seq2seq_lasagne.compat import blas

    path = compat.scipy_openblas_path()
    prefix = blas.symbol_prefix(path)
    ldflags = theano.config.blas.ldflags
    assert '-l:' + os.path.basename(path) in ldflags
    assert (' -Dsgemm_=scipy_sgemm_' in ldflags) == (prefix == 'scipy_')
    assert (' -D' in ldflags) == bool(prefix)
    x, y = T.matrix(), T.matrix()
    f = theano.function([x, y], T.dot(x, y))
    names = [type(node.op).__name__ for node in f.maker.fgraph.toposort()]
    assert any(n in ('Dot22', 'Gemm', 'Dot22Scalar') for n in names), names
    rng = np.random.RandomState(0)
    a = rng.randn(7, 5).astype(theano.config.floatX)
    b = rng.randn(5, 3).astype(theano.config.floatX)
    np.testing.assert_allclose(f(a, b), a.dot(b), rtol=1e-5, atol=1e-5)


def test_doctor_counts_the_blas_renames():
    from seq2seq_lasagne.doctor import blas_summary

    assert blas_summary('') == '(empty: BLAS through NumPy)'
    assert blas_summary('-L/x -l:libopenblas.so') == '-L/x -l:libopenblas.so'
    assert (
        blas_summary('-L/x -l:lib.so -Da_=scipy_a_ -Db_=scipy_b_')
        == '-L/x -l:lib.so (+ 2 -D symbol renames, e.g. -Da_=scipy_a_)'
    )


COMPILED_OPS = """
import glob, os
import numpy as np
import seq2seq_lasagne, theano, theano.tensor as T
{restore}
compiledir = theano.config.compiledir
before = set(glob.glob(os.path.join(compiledir, '*', '*.so')))
x = T.matrix()
{compute}
ops = set()
for module in set(glob.glob(os.path.join(compiledir, '*', '*.so'))) - before:
    with open(os.path.join(os.path.dirname(module), 'mod.cpp')) as source:
        ops.update(l.split()[-1] for l in source if l.startswith('// Op cl'))
print('compiled:', ' '.join(sorted(ops)))
"""


def _compiled_in_a_later_process(tmp_path, restore, compute):
    """The op classes compiled by a first and by a second process running
    ``compute`` in one compile cache (``restore`` undoes a fix first)."""
    code = COMPILED_OPS.format(restore=restore, compute=compute)
    flags = 'base_compiledir=%s' % tmp_path
    first = run_python(code, THEANO_FLAGS=flags)[-1].split()
    later = run_python(code, THEANO_FLAGS=flags)[-1].split()
    return first, later


@pytest.mark.slow
@pytest.mark.parametrize('fixed', [True, False])
def test_a_later_process_finds_dimshuffle_in_the_compile_cache(
    tmp_path, fixed
):
    # DimShuffle is a COp: Theano 1.0.5 keys its module by Python's salted
    # str hash, so without the fix every process compiles it again.
    restore = (
        ''
        if fixed
        else 'from theano.gof import op\n'
        'op.COp.c_code_cache_version = '
        'op.COp.c_code_cache_version.__wrapped__'
    )
    compute = (
        "f = theano.function([x], x.dimshuffle(1, 0, 'x') * 2)\n"
        "f(np.ones((2, 3), dtype='float32'))"
    )
    first, later = _compiled_in_a_later_process(tmp_path, restore, compute)
    assert 'DimShuffle' in first
    assert ('DimShuffle' in later) is not fixed, later


@pytest.mark.slow
@pytest.mark.parametrize('fixed', [True, False])
def test_a_later_process_finds_ops_without_parameters_in_the_compile_cache(
    tmp_path, fixed
):
    # AdvancedSubtensor1 (an embedding's lookup) has __props__ = (): Theano
    # 1.0.5 then keys its module as unversioned, so every process compiles
    # it again, in a temporary folder.
    restore = (
        ''
        if fixed
        else 'from theano.gof import cc\n'
        'cc.CLinker.cmodule_key_ = cc.CLinker.cmodule_key_.__wrapped__'
    )
    compute = (
        'i = T.ivector()\n'
        'f = theano.function([x, i], x[i])\n'
        "f(np.ones((2, 3), dtype='float32'), np.array([1, 0], 'int32'))"
    )
    first, later = _compiled_in_a_later_process(tmp_path, restore, compute)
    assert 'AdvancedSubtensor1' in first
    assert ('AdvancedSubtensor1' in later) is not fixed, later


def test_only_empty_props_lose_their_unversioned_mark():
    import theano
    import theano.tensor as T
    from theano.gof import cc

    from seq2seq_lasagne.compat import cache_keys

    def key(fgraph, shipped=False):
        linker = cc.CLinker().accept(fgraph)
        method = cc.CLinker.cmodule_key_
        if shipped:
            method = method.__wrapped__
        return method(linker, fgraph, linker.no_recycling)

    x, i = T.matrix(), T.ivector()
    lookup = theano.gof.FunctionGraph([x, i], [x[i]])
    assert key(lookup, shipped=True)[0] == ()
    assert key(lookup)[0] and key(lookup)[1] == key(lookup, shipped=True)[1]

    sliced = theano.gof.FunctionGraph([x], [x[1:] * 2])
    subtensor = type(
        next(n.op for n in sliced.toposort() if 'Subtensor' in str(n.op))
    )
    versioned = subtensor.c_code_cache_version
    try:
        subtensor.c_code_cache_version = lambda self: ()
        assert key(sliced)[0] == () == key(sliced, shipped=True)[0]
        linker = cc.CLinker().accept(sliced)
        assert cache_keys._module_version(linker, sliced) == ()
    finally:
        subtensor.c_code_cache_version = versioned
    assert key(sliced)[0]


def test_the_cop_cache_version_is_the_same_in_every_process():
    code = """
    import seq2seq_lasagne
    from theano.tensor.elemwise import DimShuffle
    print(DimShuffle((False, False), (1, 0)).c_code_cache_version())
    """
    seen = {run_python(code, PYTHONHASHSEED=seed)[-1] for seed in ('1', '2')}
    assert len(seen) == 1, seen
    assert any('COp modules' in c for c in compat.changes())
