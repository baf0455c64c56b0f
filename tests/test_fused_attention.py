"""The fused attention ops (``layers.fused_attention``) against Theano's.

Their C code is what training runs with ``fused_attention``; it is
compared with the graph the layer builds without it (broadcast addition,
``tanh``, ``dot``, ``batched_dot``) and with the ops' own NumPy
``perform``, gradients included, and with finite differences.  Few
functions are compiled: each is a g++ build on a cold cache.
"""

import numpy as np
import pytest
import theano
import theano.tensor as T

import seq2seq_lasagne  # noqa: F401  (must come before theano)
from seq2seq_lasagne.layers.attention import weighted_sum
from seq2seq_lasagne.layers.fused_attention import (
    AlignmentScores,
    AlignmentScoresGrad,
    BatchedMatVec,
    alignment_scores,
)

B, L, A, E = 4, 7, 5, 3


def theanos_ops(q, keys, v):
    """The layer's scores without the fused op."""
    return T.dot(T.tanh(q.dimshuffle(0, 'x', 1) + keys), v)


def inputs(dtype, rng, scale=1.0, width=A):
    return (
        (rng.normal(0, scale, (B, width))).astype(dtype),
        (rng.normal(0, scale, (B, L, width))).astype(dtype),
        (rng.normal(0, 1, width)).astype(dtype),
        (rng.normal(0, 1, (B, L))).astype(dtype),
    )


def scores_and_grads(scores, dtype, mode=None):
    """Compiled: ``e`` and the gradients of ``sum(e * ge)`` by q, K, v."""
    q = T.matrix('q', dtype=dtype)
    keys = T.tensor3('K', dtype=dtype)
    v = T.vector('v', dtype=dtype)
    ge = T.matrix('ge', dtype=dtype)
    e = scores(q, keys, v)
    grads = T.grad((e * ge).sum(), [q, keys, v])
    return theano.function([q, keys, v, ge], [e] + grads, mode=mode)


def context_and_grads(ctx, dtype='float64', mode=None):
    """Compiled: the context, ``H . x`` per sequence and the gradients of
    both by their inputs."""
    alpha = T.matrix('alpha', dtype=dtype)
    H = T.tensor3('H', dtype=dtype)
    x = T.matrix('x', dtype=dtype)
    gc = T.matrix('gc', dtype=dtype)
    gy = T.matrix('gy', dtype=dtype)
    c, y = ctx(alpha, H, x)
    cost = (c * gc).sum() + (y * gy).sum()
    grads = T.grad(cost, [alpha, H, x])
    return theano.function([alpha, H, x, gc, gy], [c, y] + grads, mode=mode)


def context(alpha, H):
    return weighted_sum(alpha, H, fused=True)


def fused_context(alpha, H, x):
    return context(alpha, H), BatchedMatVec(False)(H, x)


def theanos_context(alpha, H, x):
    return T.batched_dot(alpha, H), T.batched_dot(H, x)


def context_inputs(rng, length=L):
    return (
        rng.normal(0, 1, (B, length)),
        rng.normal(0, 1, (B, length, E)),
        rng.normal(0, 1, (B, E)),
        rng.normal(0, 1, (B, E)),
        rng.normal(0, 1, (B, length)),
    )


@pytest.fixture(scope='module')
def float64_fns():
    return dict(
        fused=scores_and_grads(alignment_scores, 'float64'),
        theano=scores_and_grads(theanos_ops, 'float64'),
        fused_context=context_and_grads(fused_context),
        theano_context=context_and_grads(theanos_context),
    )


def test_the_c_code_runs_and_the_gradient_is_the_fused_op(float64_fns):
    ops = {
        type(node.op) for node in float64_fns['fused'].maker.fgraph.toposort()
    }
    assert ops == {AlignmentScores, AlignmentScoresGrad}
    assert not isinstance(
        float64_fns['fused'].maker.linker, theano.gof.PerformLinker
    )


@pytest.mark.parametrize(
    'scale, width',
    # width 20 runs the kernels compiled for it, 5 and 10 the general one;
    # scale 6: most tanh saturate, where 1 - tanh**2 loses digits
    [(1.0, 5), (6.0, 5), (1.0, 10), (1.0, 20), (6.0, 20)],
)
def test_scores_and_gradients_equal_theanos_ops(float64_fns, scale, width):
    args = inputs('float64', np.random.RandomState(0), scale, width)
    got = float64_fns['fused'](*args)
    want = float64_fns['theano'](*args)
    for name, g, w in zip(('e', 'gq', 'gK', 'gv'), got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=name)
    assert np.ptp(got[0]) > 0.1 and np.abs(got[2]).max() > 1e-3


# the kernels take the positions 4 and 8 at a time, then one by one
@pytest.mark.parametrize('length', [1, L, 13, 16])
def test_context_and_its_gradients_equal_batched_dot(float64_fns, length):
    args = context_inputs(np.random.RandomState(7), length)
    got = float64_fns['fused_context'](*args)
    want = float64_fns['theano_context'](*args)
    for name, g, w in zip(('ctx', 'y', 'galpha', 'gH', 'gx'), got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=name)
    # the context is the weighted sum the layer means
    alpha, H = args[:2]
    np.testing.assert_allclose(got[0], (alpha[:, :, None] * H).sum(1))


def test_strided_inputs_are_read_as_the_arrays_they_view(float64_fns):
    q, keys, v, ge = inputs('float64', np.random.RandomState(1))
    # the same values, none of them contiguous in memory
    q_s = np.asfortranarray(q)
    k_s = np.ascontiguousarray(keys.transpose(1, 0, 2)).transpose(1, 0, 2)
    v_s = np.repeat(v, 2)[::2]
    ge_s = np.asfortranarray(ge)
    assert not any(x.flags.c_contiguous for x in (q_s, k_s, v_s, ge_s))
    got = float64_fns['fused'](q_s, k_s, v_s, ge_s)
    want = float64_fns['fused'](q, keys, v, ge)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_python_perform_equals_the_c_code(float64_fns):
    py_mode = theano.compile.Mode(linker='py')
    for build, fused, args in (
        (
            lambda: scores_and_grads(alignment_scores, 'float64', py_mode),
            float64_fns['fused'],
            inputs('float64', np.random.RandomState(2)),
        ),
        (
            lambda: context_and_grads(fused_context, mode=py_mode),
            float64_fns['fused_context'],
            context_inputs(np.random.RandomState(8)),
        ),
    ):
        py = build()
        assert isinstance(py.maker.linker, theano.gof.PerformLinker)
        for g, w in zip(py(*args), fused(*args)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_float32_is_float64_up_to_rounding(float64_fns):
    fn = scores_and_grads(alignment_scores, 'float32')
    for width in (7, 20):
        args = inputs('float32', np.random.RandomState(3), width=width)
        want = float64_fns['theano'](*[a.astype('float64') for a in args])
        for g, w in zip(fn(*args), want):
            assert g.dtype == np.float32
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def test_gradients_against_finite_differences():
    q, keys, v, _ = inputs('float64', np.random.RandomState(4))
    theano.gradient.verify_grad(
        alignment_scores, [q, keys, v], rng=np.random.RandomState(5)
    )
    alpha, H, x = context_inputs(np.random.RandomState(9))[:3]
    theano.gradient.verify_grad(
        context, [alpha, H], rng=np.random.RandomState(10)
    )
    theano.gradient.verify_grad(
        BatchedMatVec(False), [H, x], rng=np.random.RandomState(11)
    )


def test_shapes_that_do_not_fit_fail_with_one_clear_line(float64_fns):
    q, keys, v, ge = inputs('float64', np.random.RandomState(6))
    with pytest.raises(ValueError, match=r'q \(4, 6\) and v \(5,\) do not'):
        float64_fns['fused'](np.zeros((B, A + 1)), keys, v, ge)
    with pytest.raises(ValueError, match='scores gradient does not fit K'):
        float64_fns['fused'](q, keys, v, ge[:, 1:])
    alpha, H, x, gc, gy = context_inputs(np.random.RandomState(12))
    with pytest.raises(ValueError, match=r'x \(4, 6\) does not fit H'):
        float64_fns['fused_context'](alpha[:, 1:], H, x, gc, gy)


def test_inputs_of_the_wrong_kind_are_refused_when_built():
    with pytest.raises(TypeError, match='q must be a 2-dimensional float'):
        alignment_scores(T.imatrix(), T.tensor3(), T.vector())
    with pytest.raises(TypeError, match='K must be a 3-dimensional'):
        alignment_scores(T.matrix(), T.matrix(), T.vector())
    with pytest.raises(TypeError, match='product: H must be a 3-dim'):
        context(T.matrix(), T.matrix())
    with pytest.raises(TypeError, match='inputs of one dtype'):
        alignment_scores(
            T.matrix(dtype='float32'),
            T.tensor3(dtype='float64'),
            T.vector(dtype='float32'),
        )


def test_the_running_sum_of_the_keys_gradient_is_added_in_the_same_pass():
    q, keys, v, ge = inputs('float64', np.random.RandomState(13))
    acc_value = np.random.RandomState(14).normal(0, 1, keys.shape)
    syms = [T.dmatrix(), T.dtensor3(), T.dvector(), T.dmatrix()]
    acc = T.dtensor3()
    grads = AlignmentScoresGrad()(*syms)
    fn = theano.function(syms + [acc], [grads[0], grads[1] + acc, grads[2]])
    nodes = [n for n in fn.maker.fgraph.toposort()]
    assert len(nodes) == 1 and nodes[0].op == AlignmentScoresGrad(True)
    plain = theano.function(syms, list(grads))
    want = plain(q, keys, v, ge)
    got = fn(q, keys, v, ge, acc_value)
    # the same sums, but g++ may fuse a product and an addition otherwise
    for g, w in zip(got, [want[0], want[1] + acc_value, want[2]]):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


def test_a_scan_over_decoder_steps_has_theanos_gradients():
    """As in the layer: K a non-sequence of a scan, its gradient summed
    over the steps by the accumulating op."""
    rng = np.random.RandomState(15)
    steps = 4
    W = rng.normal(0, 1, (A, A))
    q0, keys, v, _ = inputs('float64', rng)

    def build(scores):
        q_sym, k_sym, v_sym = T.dmatrix(), T.dtensor3(), T.dvector()

        def step(q_prev, k, v):
            alpha = T.nnet.softmax(scores(q_prev, k, v))
            return T.tanh(T.dot(q_prev, W) + T.batched_dot(alpha, k))

        qs, _ = theano.scan(
            step,
            outputs_info=[q_sym],
            non_sequences=[k_sym, v_sym],
            n_steps=steps,
        )
        cost = (qs**2).sum()
        fn = theano.function(
            [q_sym, k_sym, v_sym], [cost] + T.grad(cost, [q_sym, k_sym, v_sym])
        )
        return fn

    fused, plain = build(alignment_scores), build(theanos_ops)
    inner = [
        n.op
        for node in fused.maker.fgraph.toposort()
        if isinstance(node.op, theano.scan_module.scan_op.Scan)
        for n in node.op.fn.maker.fgraph.toposort()
    ]
    assert AlignmentScoresGrad(True) in inner
    for g, w in zip(fused(q0, keys, v), plain(q0, keys, v)):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)
