"""The fused GRU (``layers.gru``, ``layers.fused_gru``) against Lasagne's.

``FusedGRULayer`` is compared with ``lasagne.layers.GRULayer`` built from
the same float64 weights: the states and the gradients of every weight,
the initial state and the input, masked or not, forwards and backwards,
for the notebook's width (compiled for it) and another.  Then the ops'
NumPy ``perform`` against their C code, finite differences, and the
errors.  Few functions are compiled: each is a g++ build on a cold cache.
"""

import lasagne
import numpy as np
import pytest
import theano
import theano.tensor as T
from trains_alike import assert_trains_alike

import seq2seq_lasagne  # noqa: F401  (must come before theano)
from seq2seq_lasagne.layers import FusedGRULayer
from seq2seq_lasagne.layers.fused_gru import (
    GRURecurrence,
    GRURecurrenceGrad,
    _pack,
    gru_recurrence,
    numpy_forward,
)

B, L, F = 5, 9, 4
GATES = ('resetgate', 'updategate', 'hidden_update')


def weights(units, rng):
    """float64 arrays for every parameter of a GRULayer (hid_init too)."""
    out = {'hid_init': rng.normal(0, 0.5, (1, units))}
    for gate in GATES:
        out['W_in_to_' + gate] = rng.normal(0, 0.5, (F, units))
        out['W_hid_to_' + gate] = rng.normal(0, 0.5, (units, units))
        out['b_' + gate] = rng.normal(0, 0.5, units)
    return out


def build(cls, units, masked, backwards, seed=0):
    """Compiled: the states and the gradients of ``sum(states * G)`` by
    every parameter and the input, for a layer of ``cls``."""
    w = weights(units, np.random.RandomState(seed))
    gates = {
        g: lasagne.layers.Gate(
            W_in=w['W_in_to_' + g],
            W_hid=w['W_hid_to_' + g],
            b=w['b_' + g],
            W_cell=None,
            nonlinearity=lasagne.nonlinearities.tanh
            if g == 'hidden_update'
            else lasagne.nonlinearities.sigmoid,
        )
        for g in GATES
    }
    l_in = lasagne.layers.InputLayer((None, None, F))
    l_mask = lasagne.layers.InputLayer((None, None)) if masked else None
    layer = cls(
        l_in,
        units,
        mask_input=l_mask,
        backwards=backwards,
        hid_init=w['hid_init'],
        learn_init=True,
        **gates,
    )
    x, mask, g = T.dtensor3('x'), T.dmatrix('mask'), T.dtensor3('G')
    inputs = {l_in: x}
    if masked:
        inputs[l_mask] = mask
    states = lasagne.layers.get_output(layer, inputs)
    params = layer.get_params(trainable=True)
    grads = T.grad((states * g).sum(), params + [x])
    fn = theano.function(
        [x, mask, g], [states] + grads, on_unused_input='ignore'
    )
    return fn, layer


def data(units, seed):
    rng = np.random.RandomState(seed)
    mask = np.ones((B, L))
    for b, length in enumerate(rng.randint(1, L + 1, B)):
        mask[b, length:] = 0
    return (
        rng.normal(0, 1, (B, L, F)),
        mask,
        rng.normal(0, 1, (B, L, units)),
    )


# units 10: the kernels compiled for the notebook's width; 3: the general
@pytest.mark.parametrize(
    'units, masked, backwards',
    [(10, True, False), (10, True, True), (10, False, False), (3, True, True)],
)
def test_states_and_gradients_equal_lasagnes_gru(units, masked, backwards):
    fused, layer = build(FusedGRULayer, units, masked, backwards)
    lasagnes, reference = build(
        lasagne.layers.GRULayer, units, masked, backwards
    )
    assert [p.name for p in layer.get_params()] == [
        p.name for p in reference.get_params()
    ]
    nodes = fused.maker.fgraph.toposort()
    assert not any(
        isinstance(n.op, theano.scan_module.scan_op.Scan) for n in nodes
    )
    assert {GRURecurrence, GRURecurrenceGrad} <= {type(n.op) for n in nodes}
    args = data(units, seed=units + 2 * masked + backwards)
    got, want = fused(*args), lasagnes(*args)
    names = ['states'] + [p.name for p in layer.get_params()] + ['input']
    assert len(got) == len(names) == len(want)
    for name, g, w in zip(names, got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=name)
    # the test means something: the states move, and where the mask is 0
    # a forward GRU carries the last state on
    states = got[0]
    assert np.ptp(states) > 0.5
    if masked and not backwards:
        mask = args[1]
        for b in range(B):
            last = int(mask[b].sum()) - 1
            np.testing.assert_array_equal(
                states[b, last:], np.repeat(states[b, last][None], L - last, 0)
            )


def op_and_grads(mode=None, masked=True, backwards=True):
    x, h0, w = T.dtensor3('x'), T.dmatrix('h0'), T.dmatrix('w')
    mask, gh = T.dmatrix('mask'), T.dtensor3('gh')
    h = gru_recurrence(x, h0, w, mask if masked else None, backwards)
    grads = T.grad((h * gh).sum(), [x, h0, w])
    return theano.function(
        [x, h0, w, mask, gh], [h] + grads, mode=mode, on_unused_input='ignore'
    )


def op_inputs(seed, units=10):
    rng = np.random.RandomState(seed)
    x, mask, gh = data(units, seed)
    return (
        rng.normal(0, 1, (B, L, 3 * units)),
        rng.normal(0, 0.5, (B, units)),
        rng.normal(0, 0.5, (units, 3 * units)),
        mask,
        gh,
    )


@pytest.fixture(scope='module')
def op_fn():
    return op_and_grads()


def test_python_perform_equals_the_c_code(op_fn):
    py = op_and_grads(theano.compile.Mode(linker='py'))
    assert isinstance(py.maker.linker, theano.gof.PerformLinker)
    args = op_inputs(20)
    for g, w in zip(py(*args), op_fn(*args)):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)


def test_the_c_code_saves_what_the_python_gradient_reads():
    """The saved values' layout is the same in C and in Python: the
    gradient's ``perform`` could run on what the C forward saved."""
    x, h0, w, mask = T.dtensor3(), T.dmatrix(), T.dmatrix(), T.dmatrix()
    op = GRURecurrence(backwards=False, masked=True)
    fn = theano.function([x, h0, w, mask], op(x, h0, w, mask))
    args = op_inputs(26)[:4]
    states, saved = fn(*args)
    want_states, want_saved = numpy_forward(*args)
    np.testing.assert_allclose(states, want_states, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(
        saved, _pack(want_saved), rtol=1e-11, atol=1e-12
    )


def test_strided_inputs_are_read_as_the_arrays_they_view(op_fn):
    args = op_inputs(21)
    strided = [
        np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)
        if a.ndim == 3
        else np.asfortranarray(a)
        for a in args
    ]
    assert not any(a.flags.c_contiguous for a in strided)
    for g, w in zip(op_fn(*strided), op_fn(*args)):
        np.testing.assert_array_equal(g, w)


def test_gradients_against_finite_differences():
    x, h0, w, mask, _ = op_inputs(22, units=3)
    for masked in (True, False):
        op = GRURecurrence(backwards=masked, masked=masked)

        def states(x, h0, w, op=op):
            return op(x, h0, w, *([mask] if op.masked else []))[0]

        theano.gradient.verify_grad(
            states, [x, h0, w], rng=np.random.RandomState(23)
        )


def test_float32_is_float64_up_to_rounding(op_fn):
    x, h0, w, mask, gh = (
        T.tensor3(),
        T.matrix(),
        T.matrix(),
        T.matrix(),
        T.tensor3(),
    )
    h = gru_recurrence(x, h0, w, mask, backwards=True)
    fn = theano.function(
        [x, h0, w, mask, gh], [h] + T.grad((h * gh).sum(), [x, h0, w])
    )
    args = op_inputs(24)
    for g, want in zip(fn(*[a.astype('float32') for a in args]), op_fn(*args)):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)


def test_shapes_that_do_not_fit_fail_with_one_clear_line(op_fn):
    x, h0, w, mask, gh = op_inputs(25)
    with pytest.raises(
        ValueError,
        match=r'the initial state \(4, 10\) and '
        r'W_hid \(10, 30\) do not fit',
    ):
        op_fn(x, h0[1:], w, mask, gh)
    with pytest.raises(ValueError, match=r'x \(5, 9, 29\)'):
        op_fn(x[:, :, 1:], h0, w, mask, gh)
    with pytest.raises(
        ValueError,
        match=r'mask \(5, 8\) does not fit 5 '
        'sequences of 9 steps',
    ):
        op_fn(x, h0, w, mask[:, 1:], gh)
    with pytest.raises(ValueError, match='gh do not fit h'):
        op_fn(x, h0, w, mask, gh[:, 1:])


def test_inputs_of_the_wrong_kind_are_refused_when_built():
    with pytest.raises(TypeError, match='x must be a 3-dimensional float'):
        gru_recurrence(T.itensor3(), T.matrix(), T.matrix())
    with pytest.raises(TypeError, match='the mask must be a 2-dimensional'):
        gru_recurrence(T.tensor3(), T.matrix(), T.matrix(), T.tensor3())
    with pytest.raises(TypeError, match='inputs of one dtype'):
        gru_recurrence(T.dtensor3(), T.fmatrix(), T.fmatrix())
    with pytest.raises(TypeError, match='4 inputs, not 3'):
        GRURecurrence()(T.tensor3(), T.matrix(), T.matrix(), T.matrix())


@pytest.mark.parametrize(
    'option, refused',
    [
        (dict(grad_clipping=1.0), 'grad_clipping'),
        (dict(gradient_steps=5), 'gradient_steps'),
        (dict(precompute_input=False), 'precompute_input'),
        (
            dict(
                resetgate=lasagne.layers.Gate(
                    W_cell=None, nonlinearity=lasagne.nonlinearities.tanh
                )
            ),
            'nonlinearity of the reset gate',
        ),
    ],
)
def test_options_the_op_does_not_compute_are_refused(option, refused):
    l_in = lasagne.layers.InputLayer((None, None, F))
    with pytest.raises(ValueError, match='not supported: ' + refused):
        FusedGRULayer(l_in, 3, **option)


def test_the_fused_baseline_trains_as_lasagnes_gru(short_baseline):
    """Ten Adam steps from the same weights: the fused GRU (issue 14's
    lever) and Lasagne's GRULayer give the same costs and weights up to
    float32 rounding."""
    from seq2seq_lasagne.settings import RunSettings

    assert_trains_alike(
        short_baseline,
        RunSettings(
            model='baseline', min_digits=3, max_digits=3, fused_gru=True
        ),
    )
