"""Tests of ``LSTMAttentionDecodeFeedbackLayer`` against a NumPy reference.

Compiling Theano graphs that hold a scan is slow (on a cold cache most of
it is g++ building C modules), so the file compiles few functions: one
forward "bundle" holding every layer variant (all given the same parameter
values), one bundle of gradients, ``verify_grad``'s three, and one forward
function with Theano's default linker.  Everything is float64 so that the
comparison with NumPy can be tight.

All but the last use the pure-Python linker (see :func:`python_float64`),
which also compiles scan's inner function: the same graph and the same
optimizations, but no C code to build, which makes a cold run several
times faster.  The last test checks the C path (what training runs)
against the same reference.
"""

import contextlib

import lasagne
import numpy as np
import pytest
import theano
import theano.tensor as T

import seq2seq_lasagne  # noqa: F401  (must come before theano/lasagne)
from seq2seq_lasagne.layers import LSTMAttentionDecodeFeedbackLayer

GATES = ('ingate', 'forgetgate', 'cell', 'outgate')
PEEPHOLE_GATES = ('ingate', 'forgetgate', 'outgate')

# Sizes of the numerical tests: batch, input length, encoder width, decoder
# units, alignment units, decoding steps.  E != U on purpose.
B, L, E, U, A, N = 3, 5, 3, 2, 4, 3
PRE = 2  # decode_pre_steps of the 'pre' variant
LENGTHS = (5, 2, 4)  # per-sample encoder lengths
RTOL, ATOL = 1e-6, 1e-9


@contextlib.contextmanager
def python_float64():
    """floatX=float64 and the pure-Python linker for what is built and
    compiled inside.

    Theano caches the default mode (``theano.compile.mode.get_mode``) the
    first time it is built, so changing ``config.linker`` alone would be
    ignored once any function has been compiled in the session -- and
    scan's inner function always uses the default mode.  The cache is
    emptied inside the block and restored after it.
    """
    mode_module = theano.compile.mode
    saved = mode_module.instantiated_default_mode
    with theano.change_flags(floatX='float64', linker='py'):
        mode_module.instantiated_default_mode = None
        try:
            yield
        finally:
            mode_module.instantiated_default_mode = saved


# --------------------------------------------------------------------------
# Independent NumPy implementation of docs/original/FACTS.md section 4
# --------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax_rows(x):
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def reference(P, H, M, n_steps, h0=None, c0=None, peepholes=True):
    """Run the decoder in NumPy, one step at a time.

    ``P`` maps short parameter names ('W_hid_to_ingate', 'W_a', ...) to
    arrays; ``h0``/``c0`` default to ``P['hid_init']``/``P['cell_init']``
    repeated over the batch.  Returns a dict of (batch, n_steps, ...) arrays
    'ctx', 'alpha', 'hid', 'cell'.
    """
    n_batch, n_in, _ = H.shape
    h = np.tile(P['hid_init'], (n_batch, 1)) if h0 is None else h0.copy()
    c = np.tile(P['cell_init'], (n_batch, 1)) if c0 is None else c0.copy()
    out = {k: [] for k in ('ctx', 'alpha', 'hid', 'cell')}
    for _ in range(n_steps):
        scores = np.zeros((n_batch, n_in))
        for b in range(n_batch):
            for j in range(n_in):
                act = np.tanh(h[b] @ P['W_a'] + H[b, j] @ P['U_a'])
                scores[b, j] = act @ P['v_a'][:, 0]
        scores = scores * M - (1.0 - M) * 10000.0
        alpha = _softmax_rows(scores)
        ctx = np.einsum('bj,bje->be', alpha, H)
        pre = {
            g: h @ P['W_hid_to_' + g]
            + P['b_' + g]
            + ctx @ P['W_weightedhid_to_' + g]
            for g in GATES
        }
        if peepholes:
            pre['ingate'] = pre['ingate'] + c * P['W_cell_to_ingate']
            pre['forgetgate'] = (
                pre['forgetgate'] + c * P['W_cell_to_forgetgate']
            )
        i = _sigmoid(pre['ingate'])
        f = _sigmoid(pre['forgetgate'])
        g = np.tanh(pre['cell'])
        o = _sigmoid(pre['outgate'])
        c = f * c + i * g
        if peepholes:
            o = o + c * P['W_cell_to_outgate']
        h = o * np.tanh(c)
        for key, val in (
            ('ctx', ctx),
            ('alpha', alpha),
            ('hid', h),
            ('cell', c),
        ):
            out[key].append(val)
    return {k: np.stack(v, axis=1) for k, v in out.items()}


# --------------------------------------------------------------------------
# Data and parameter values
# --------------------------------------------------------------------------


def param_shapes(n_enc=E, n_units=U, n_aln=A):
    shapes = {}
    for g in GATES:
        shapes['W_hid_to_' + g] = (n_units, n_units)
        shapes['b_' + g] = (n_units,)
        shapes['W_weightedhid_to_' + g] = (n_enc, n_units)
    for g in PEEPHOLE_GATES:
        shapes['W_cell_to_' + g] = (n_units,)
    shapes.update(
        W_a=(n_units, n_aln),
        U_a=(n_enc, n_aln),
        v_a=(n_aln, 1),
        hid_init=(1, n_units),
        cell_init=(1, n_units),
    )
    return shapes


def make_params(seed=1):
    """Random values, large enough for non-trivial attention; nonzero
    biases and initial states so that every term is exercised."""
    rng = np.random.RandomState(seed)
    return {k: rng.normal(0.0, 0.8, size=s) for k, s in param_shapes().items()}


def set_params(layer, P):
    """Give ``layer`` the values ``P`` (by attribute name)."""
    for name, value in P.items():
        var = getattr(layer, name, None)
        if isinstance(var, theano.compile.SharedVariable):
            var.set_value(value.astype(var.dtype))


def make_mask(lengths, n_in):
    return (np.arange(n_in)[None, :] < np.asarray(lengths)[:, None]).astype(
        'float64'
    )


def make_batch(seed=2):
    rng = np.random.RandomState(seed)
    H = rng.normal(0.0, 1.0, size=(B, L, E))  # padding holds garbage too
    return H, make_mask(LENGTHS, L)


# --------------------------------------------------------------------------
# Fixtures: the layers and the compiled functions
# --------------------------------------------------------------------------


class Net(object):
    """Input layers, symbolic inputs and the layer variants."""


VARIANTS = {
    'base': {},
    'decodehid': dict(return_decodehid=True),
    'unroll': dict(unroll_scan=True),
    'fused': dict(fused_attention=True),
    'backwards': dict(backwards=True),
    'pre': dict(decode_pre_steps=PRE),
    'nopeep': dict(peepholes=False),
    'nomask': dict(mask_input=None),
}


@pytest.fixture(scope='module')
def P():
    return make_params()


@pytest.fixture(scope='module')
def net(P):
    """Every variant, with the same parameter values, and a forward
    function returning a dict of arrays 'variant.what'."""
    n = Net()
    with python_float64():
        n.l_in = lasagne.layers.InputLayer((None, None, E), name='enc')
        n.l_mask = lasagne.layers.InputLayer((None, None), name='mask')
        n.h0 = T.matrix('h0')
        n.c0 = T.matrix('c0')
        n.l_h0 = lasagne.layers.InputLayer((None, U), input_var=n.h0)
        n.l_c0 = lasagne.layers.InputLayer((None, U), input_var=n.c0)
        n.layers = {}
        for name, options in VARIANTS.items():
            kw = dict(mask_input=n.l_mask, name='D_' + name)
            kw.update(options)
            n.layers[name] = LSTMAttentionDecodeFeedbackLayer(
                n.l_in, num_units=U, aln_num_units=A, n_decodesteps=N, **kw
            )
        n.layers['tensorinit'] = LSTMAttentionDecodeFeedbackLayer(
            n.l_in, U, A, N, mask_input=n.l_mask, hid_init=n.h0, cell_init=n.c0
        )
        n.layers['layerinit'] = LSTMAttentionDecodeFeedbackLayer(
            n.l_in,
            U,
            A,
            N,
            mask_input=n.l_mask,
            hid_init=n.l_h0,
            cell_init=n.l_c0,
        )
        for layer in n.layers.values():
            set_params(layer, P)

        outputs = {}
        for name, layer in n.layers.items():
            out = lasagne.layers.get_output(layer)
            outputs[name + '.out'] = out
            for what in ('ctx_out', 'alpha', 'hid_out', 'cell_out'):
                outputs[name + '.' + what] = getattr(layer, what)
        keys = sorted(outputs)
        fn = theano.function(
            [n.l_in.input_var, n.l_mask.input_var, n.h0, n.c0],
            [outputs[k] for k in keys],
            on_unused_input='ignore',
        )

    def forward(H, M, h0=None, c0=None):
        h0 = np.zeros((len(H), U)) if h0 is None else h0
        c0 = np.zeros((len(H), U)) if c0 is None else c0
        return dict(zip(keys, fn(H, M, h0, c0)))

    n.forward = forward
    return n


@pytest.fixture(scope='module')
def batch():
    return make_batch()


@pytest.fixture(scope='module')
def result(net, batch):
    return net.forward(*batch)


@pytest.fixture(scope='module')
def expected(P, batch):
    return reference(P, batch[0], batch[1], N)


def assert_close(actual, desired):
    np.testing.assert_allclose(actual, desired, rtol=RTOL, atol=ATOL)


def assert_matches(result, variant, ref):
    assert_close(result[variant + '.ctx_out'], ref['ctx'])
    assert_close(result[variant + '.alpha'], ref['alpha'])
    assert_close(result[variant + '.hid_out'], ref['hid'])
    assert_close(result[variant + '.cell_out'], ref['cell'])


# --------------------------------------------------------------------------
# Forward values
# --------------------------------------------------------------------------


def test_forward_matches_numpy_reference(result, expected):
    assert result['base.out'].shape == (B, N, E)
    assert result['base.alpha'].shape == (B, N, L)
    assert_close(result['base.out'], expected['ctx'])
    assert_matches(result, 'base', expected)
    # the reference itself is not degenerate: attention differs per step
    # and per sample, and the states move
    assert np.ptp(expected['alpha'][0], axis=0).max() > 1e-3
    assert np.abs(expected['hid']).min() > 1e-4


def test_return_decodehid_returns_hidden_states(result, expected):
    assert result['decodehid.out'].shape == (B, N, U)
    assert_close(result['decodehid.out'], expected['hid'])
    assert_close(result['decodehid.ctx_out'], expected['ctx'])


def test_unroll_scan_equals_scan(result, expected):
    assert_matches(result, 'unroll', expected)
    for what in ('out', 'alpha', 'hid_out', 'cell_out'):
        np.testing.assert_allclose(
            result['unroll.' + what], result['base.' + what], rtol=1e-12
        )


def test_fused_attention_equals_theanos_ops(result, expected):
    assert_matches(result, 'fused', expected)
    for what in ('out', 'alpha', 'hid_out', 'cell_out'):
        np.testing.assert_allclose(
            result['fused.' + what], result['base.' + what], rtol=1e-12
        )


def test_backwards_reverses_every_output(result, expected):
    rev = {k: v[:, ::-1] for k, v in expected.items()}
    assert_close(result['backwards.out'], rev['ctx'])
    assert_matches(result, 'backwards', rev)


def test_decode_pre_steps_drops_leading_steps_of_every_output(
    P, batch, result
):
    longer = reference(P, batch[0], batch[1], N + PRE)
    kept = {k: v[:, PRE:] for k, v in longer.items()}
    assert result['pre.out'].shape == (B, N, E)
    assert result['pre.alpha'].shape == (B, N, L)
    assert result['pre.cell_out'].shape == (B, N, U)
    assert_close(result['pre.out'], kept['ctx'])
    assert_matches(result, 'pre', kept)


def test_without_peepholes(P, batch, result, net):
    ref = reference(P, batch[0], batch[1], N, peepholes=False)
    assert_matches(result, 'nopeep', ref)
    names = [p.name for p in net.layers['nopeep'].get_params()]
    assert not any('W_cell_to' in name for name in names)
    assert len(net.layers['nopeep'].get_params(trainable=True)) == 15


def test_no_mask_is_an_all_ones_mask(P, batch, result):
    H = batch[0]
    ref = reference(P, H, np.ones((B, L)), N)
    assert_matches(result, 'nomask', ref)
    # and it differs from the masked run
    assert np.abs(result['nomask.out'] - result['base.out']).max() > 1e-3


def test_tensor_variable_and_layer_initial_states(P, batch, net):
    rng = np.random.RandomState(3)
    h0, c0 = rng.normal(0.0, 0.8, size=(2, B, U))
    got = net.forward(batch[0], batch[1], h0, c0)
    ref = reference(P, batch[0], batch[1], N, h0=h0, c0=c0)
    assert_matches(got, 'tensorinit', ref)
    assert_matches(got, 'layerinit', ref)
    for name in ('tensorinit', 'layerinit'):
        layer = net.layers[name]
        names = [p.name for p in layer.get_params()]
        assert 'hid_init' not in names and 'cell_init' not in names
    assert len(net.layers['layerinit'].input_layers) == 4
    # the parameter initial states are not used by these variants
    assert np.abs(got['tensorinit.out'] - got['base.out']).max() > 1e-3


# --------------------------------------------------------------------------
# Attention weights and masking
# --------------------------------------------------------------------------


def test_alpha_rows_sum_to_one_and_padding_gets_no_weight(result, batch):
    M = batch[1]
    for variant in ('base', 'unroll', 'backwards', 'pre', 'nopeep'):
        alpha = result[variant + '.alpha']
        np.testing.assert_allclose(alpha.sum(axis=2), 1.0, rtol=1e-12)
        padded = np.broadcast_to((M == 0)[:, None, :], alpha.shape)
        assert padded.any()
        assert alpha[padded].max() < 1e-300
        assert alpha[~padded].min() > 1e-6


def test_outputs_do_not_depend_on_longer_samples(net, batch):
    H, M = batch
    # Samples 1 and 2 alone with the input cut to 4 positions ...
    short = net.forward(H[1:, :4], M[1:, :4])
    # ... and in a batch with sample 0, which is 5 long.
    full = net.forward(H, M)
    for what in ('out', 'hid_out', 'cell_out'):
        np.testing.assert_allclose(
            full['base.' + what][1:],
            short['base.' + what],
            rtol=1e-12,
            atol=1e-14,
        )
    np.testing.assert_allclose(
        full['base.alpha'][1:, :, :4],
        short['base.alpha'],
        rtol=1e-12,
        atol=1e-14,
    )
    # garbage in the padding does not matter either
    H2 = H.copy()
    H2[M == 0] = 1e3
    again = net.forward(H2, M)
    np.testing.assert_allclose(again['base.out'], full['base.out'], rtol=1e-12)


# --------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------

CLIP = 1e-4


def numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar ``f()`` with respect to the array
    ``x``, changed in place and restored."""
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@pytest.fixture(scope='module')
def grads(P, batch):
    """One function: outputs and gradients of a ``grad_clipping`` and a
    ``gradient_steps`` layer.  Their unclipped / untruncated counterparts
    come from finite differences of the NumPy reference."""
    with python_float64():
        l_in = lasagne.layers.InputLayer((None, None, E))
        l_mask = lasagne.layers.InputLayer((None, None))
        clip = LSTMAttentionDecodeFeedbackLayer(
            l_in, U, A, N, mask_input=l_mask, grad_clipping=CLIP
        )
        trunc = LSTMAttentionDecodeFeedbackLayer(
            l_in, U, A, N, mask_input=l_mask, gradient_steps=1
        )
        outputs = []
        for layer in (clip, trunc):
            set_params(layer, P)
            outputs.append(lasagne.layers.get_output(layer))
        # clip: every bias; trunc: the alignment parameters, for the
        # contexts of the first step only
        clip_cost = outputs[0].sum() + clip.hid_out.sum()
        outputs += T.grad(clip_cost, [getattr(clip, 'b_' + g) for g in GATES])
        outputs += T.grad(outputs[1][:, 0].sum(), [trunc.v_a, trunc.U_a])
        fn = theano.function([l_in.input_var, l_mask.input_var], outputs)
    res = fn(*batch)
    return dict(
        clip_out=res[0],
        trunc_out=res[1],
        clip_d_b=res[2:6],
        trunc_d_first=res[6:8],
    )


def test_grad_clipping_bounds_gate_gradients(grads, P, batch, expected):
    # the forward pass is unchanged
    assert_close(grads['clip_out'], expected['ctx'])
    # each gate pre-activation gradient is clipped to [-CLIP, CLIP]; a bias
    # gradient sums B * N of them ...
    bound = B * N * CLIP * (1 + 1e-9)
    Q = {k: v.copy() for k, v in P.items()}

    def cost():
        ref = reference(Q, batch[0], batch[1], N)
        return ref['ctx'].sum() + ref['hid'].sum()

    for g, clipped in zip(GATES, grads['clip_d_b']):
        assert clipped.shape == (U,)
        assert np.abs(clipped).max() <= bound
        # ... while the true gradient is far larger
        assert np.abs(numeric_grad(cost, Q['b_' + g])).max() > 10 * bound


def test_gradient_steps_truncates_backprop(grads, P, batch, expected):
    assert_close(grads['trunc_out'], expected['ctx'])
    # the contexts of step 0 are out of reach of a 1-step truncated
    # backprop over 3 steps: their gradient vanishes ...
    for truncated in grads['trunc_d_first']:
        assert np.all(truncated == 0)
    # ... though the true gradient does not
    Q = {k: v.copy() for k, v in P.items()}

    def first():
        return reference(Q, batch[0], batch[1], 1)['ctx'].sum()

    for name in ('v_a', 'U_a'):
        assert np.abs(numeric_grad(first, Q[name])).max() > 1e-3


def test_learn_init_makes_initial_states_trainable():
    l_in = lasagne.layers.InputLayer((None, None, E))
    learn = LSTMAttentionDecodeFeedbackLayer(l_in, U, A, N, learn_init=True)
    fixed = LSTMAttentionDecodeFeedbackLayer(l_in, U, A, N)
    trainable = learn.get_params(trainable=True)
    assert len(trainable) == len(fixed.get_params(trainable=True)) + 2 == 20
    assert trainable[-2:] == [learn.hid_init, learn.cell_init]
    assert fixed.hid_init not in fixed.get_params(trainable=True)
    assert fixed.cell_init in fixed.get_params()
    assert learn.hid_init not in learn.get_params(regularizable=True)
    # the initial states are connected to the output (their gradient is
    # checked numerically in the verify_grad test)
    out = lasagne.layers.get_output(learn)
    T.grad(out.sum(), trainable)  # raises if any is disconnected


@pytest.mark.slow
def test_verify_grad_all_parameters_and_encoder_states():
    """Finite differences against Theano's gradient, for the encoder states
    and every parameter (initial states included)."""
    b_, l_, e_, u_, a_, n_ = 2, 3, 2, 2, 3, 2
    rng = np.random.RandomState(4)
    M = make_mask((3, 2), l_)
    with python_float64():
        l_in = lasagne.layers.InputLayer((None, None, e_))
        l_mask = lasagne.layers.InputLayer((None, None))
        layer = LSTMAttentionDecodeFeedbackLayer(
            l_in, u_, a_, n_, mask_input=l_mask
        )
        params = layer.get_params()
        assert len(params) == 20
        values = [
            rng.normal(0.0, 0.8, size=p.get_value().shape) for p in params
        ]
        H = rng.normal(0.0, 1.0, size=(b_, l_, e_))

        def fun(H_sym, *param_syms):
            ctx = lasagne.layers.get_output(
                layer, {l_in: H_sym, l_mask: T.constant(M)}
            )
            both = T.concatenate([ctx.flatten(), layer.hid_out.flatten()])
            return theano.clone(both, replace=dict(zip(params, param_syms)))

        theano.gradient.verify_grad(
            fun, [H] + values, n_tests=1, rng=np.random.RandomState(5)
        )


# --------------------------------------------------------------------------
# Shapes, parameters, arguments (no compilation)
# --------------------------------------------------------------------------

NOTEBOOK_PARAMS = """\
LSTMDecoder.W_hid_to_ingate (10, 10)
LSTMDecoder.b_ingate (10,)
LSTMDecoder.W_hid_to_forgetgate (10, 10)
LSTMDecoder.b_forgetgate (10,)
LSTMDecoder.W_hid_to_cell (10, 10)
LSTMDecoder.b_cell (10,)
LSTMDecoder.W_hid_to_outgate (10, 10)
LSTMDecoder.b_outgate (10,)
LSTMDecoder.W_weightedhid_to_ingate (10, 10)
LSTMDecoder.W_weightedhid_to_forgetgate (10, 10)
LSTMDecoder.W_weightedhid_to_cell (10, 10)
LSTMDecoder.W_weightedhid_to_outgate (10, 10)
LSTMDecoder.W_cell_to_ingate (10,)
LSTMDecoder.W_cell_to_forgetgate (10,)
LSTMDecoder.W_cell_to_outgate (10,)
LSTMDecoder.AlignSeqOutputLayer: (aln) W_a (10, 20)
LSTMDecoder.AlignSeqOutputLayer: (aln) U_a (10, 20)
LSTMDecoder.AlignSeqOutputLayer: v_a (20, 1)"""


def test_notebook_parameters_names_shapes_and_order():
    l_enc = lasagne.layers.InputLayer((100, 20, 10))
    l_dec = LSTMAttentionDecodeFeedbackLayer(
        l_enc,
        num_units=10,
        aln_num_units=20,
        n_decodesteps=21,
        name='LSTMDecoder',
    )
    printed = '\n'.join(
        '%s %s' % (p.name, p.get_value().shape)
        for p in l_dec.get_params(trainable=True)
    )
    assert printed == NOTEBOOK_PARAMS
    assert l_dec.output_shape == (100, 21, 10)
    rest = [
        p
        for p in l_dec.get_params()
        if p not in l_dec.get_params(trainable=True)
    ]
    assert [(p.name, p.get_value().shape) for p in rest] == [
        ('LSTMDecoder.hid_init', (1, 10)),
        ('LSTMDecoder.cell_init', (1, 10)),
    ]
    assert not any(np.any(p.get_value()) for p in rest)
    assert all(p.dtype == theano.config.floatX for p in l_dec.get_params())
    # biases zero, weights Normal(0.1), not regularized biases
    for p in l_dec.get_params(trainable=True):
        v = p.get_value()
        if '.b_' in p.name:
            assert not v.any()
        elif v.size >= 100:
            assert 0.05 < v.std() < 0.15
    assert l_dec.b_ingate not in l_dec.get_params(regularizable=True)


def test_output_shape_reports_encoder_width_or_num_units():
    l_enc = lasagne.layers.InputLayer((None, 7, 6))
    ctx = LSTMAttentionDecodeFeedbackLayer(l_enc, 4, 5, 9)
    hid = LSTMAttentionDecodeFeedbackLayer(
        l_enc, 4, 5, 9, return_decodehid=True
    )
    pre = LSTMAttentionDecodeFeedbackLayer(l_enc, 4, 5, 9, decode_pre_steps=3)
    assert ctx.output_shape == (None, 9, 6)
    assert hid.output_shape == (None, 9, 4)
    assert pre.output_shape == (None, 9, 6)
    assert ctx.get_output_shape_for([(8, 3, 2)]) == (8, 9, 2)
    assert ctx.W_weightedhid_to_cell.get_value().shape == (6, 4)
    assert ctx.W_a.get_value().shape == (4, 5)
    assert ctx.U_a.get_value().shape == (6, 5)


def test_compiled_shapes_agree_with_output_shape(net, result):
    for name, layer in net.layers.items():
        shape = layer.get_output_shape_for(
            [(B, L, E)] + [(B, L)] * (len(layer.input_layers) - 1)
        )
        assert result[name + '.out'].shape == shape, name


def test_bad_arguments():
    l_enc = lasagne.layers.InputLayer((None, None, 3))
    with pytest.raises(ValueError):
        LSTMAttentionDecodeFeedbackLayer(
            l_enc, 2, 2, 3, unroll_scan=True, gradient_steps=2
        )
    with pytest.raises(ValueError):
        LSTMAttentionDecodeFeedbackLayer(l_enc, 2, 2, 0)
    with pytest.raises(ValueError, match='fused_attention scores with tanh'):
        LSTMAttentionDecodeFeedbackLayer(
            l_enc, 2, 2, 3, fused_attention=True, nonlinearity_align=None
        )
    with pytest.raises(ValueError):
        LSTMAttentionDecodeFeedbackLayer(l_enc, 2, 2, 3, decode_pre_steps=-1)
    with pytest.raises(ValueError):
        LSTMAttentionDecodeFeedbackLayer(l_enc, 2, 2, 3, hid_init=T.tensor3())
    with pytest.raises(ValueError):
        LSTMAttentionDecodeFeedbackLayer(
            lasagne.layers.InputLayer((None, None, None)), 2, 2, 3
        )


@pytest.mark.slow
def test_default_linker_forward_matches_numpy_reference(net, batch, expected):
    """The base variant once more, compiled with Theano's default (C)
    linker, as training runs it."""
    layer = net.layers['base']
    with theano.change_flags(floatX='float64'):
        ctx = lasagne.layers.get_output(layer)
        fn = theano.function(
            [net.l_in.input_var, net.l_mask.input_var],
            [ctx, layer.alpha, layer.hid_out, layer.cell_out],
        )
    assert not isinstance(fn.maker.linker, theano.gof.PerformLinker)
    got = dict(zip(('ctx_out', 'alpha', 'hid_out', 'cell_out'), fn(*batch)))
    assert_matches({'base.' + k: v for k, v in got.items()}, 'base', expected)


def test_fixed_w_hid_is_not_reused_for_the_context_weights():
    l_enc = lasagne.layers.InputLayer((None, None, 3))
    W = np.ones((2, 2), dtype=theano.config.floatX)
    layer = LSTMAttentionDecodeFeedbackLayer(
        l_enc, 2, 2, 3, ingate=lasagne.layers.Gate(W_hid=W)
    )
    assert np.all(layer.W_hid_to_ingate.get_value() == 1)
    assert layer.W_weightedhid_to_ingate.get_value().shape == (3, 2)
    shared = theano.shared(W)
    layer = LSTMAttentionDecodeFeedbackLayer(
        l_enc, 2, 2, 3, ingate=lasagne.layers.Gate(W_hid=shared)
    )
    assert layer.W_hid_to_ingate is shared
    assert layer.W_weightedhid_to_ingate is not shared
    assert len(layer.get_params(trainable=True)) == 18


def test_weighted_sum_with_and_without_a_blas_library():
    from seq2seq_lasagne.layers.attention import weighted_sum

    rng = np.random.RandomState(3)
    a = rng.rand(3, 5).astype(theano.config.floatX)
    h = rng.rand(3, 5, 4).astype(theano.config.floatX)
    expected = (a[:, :, None] * h).sum(axis=1)

    def compute():
        alpha, H = T.matrix('alpha'), T.tensor3('H')
        ctx = weighted_sum(alpha, H)
        g_alpha, g_H = T.grad((ctx**2).sum(), [alpha, H])
        f = theano.function([alpha, H], [ctx, g_alpha, g_H])
        return type(ctx.owner.op).__name__, f(a, h)

    op_blas, (ctx, g_alpha, g_H) = compute()
    # BatchedDot needs a BLAS library: without one, the broadcast form.
    with theano.change_flags({'blas.ldflags': ''}):
        op_none, no_blas = compute()
    assert op_blas == 'BatchedDot' and op_none != 'BatchedDot'
    np.testing.assert_allclose(ctx, expected, rtol=1e-5)
    np.testing.assert_allclose(
        g_alpha, 2 * (expected[:, None, :] * h).sum(2), rtol=1e-5
    )
    np.testing.assert_allclose(
        g_H, 2 * a[:, :, None] * expected[:, None, :], rtol=1e-5
    )
    for ours, theirs in zip((ctx, g_alpha, g_H), no_blas):
        np.testing.assert_allclose(theirs, ours, rtol=1e-5)
