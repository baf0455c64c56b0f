"""RepeatLayer, the baseline network and its training (docs/original/FACTS.md
section 3)."""

import lasagne
import numpy as np
import pytest
import theano
import theano.tensor as T
from original import printed_shapes, trainable_parameters

from seq2seq_lasagne.data_generator import get_batch
from seq2seq_lasagne.layers import RepeatLayer
from seq2seq_lasagne.models import build_baseline


def test_repeat_layer_shape_and_values():
    l_in = lasagne.layers.InputLayer((None, 3))
    layer = RepeatLayer(l_in, n=4)
    assert layer.get_output_shape_for((5, 3)) == (5, 4, 3)
    assert lasagne.layers.get_output_shape(layer) == (None, 4, 3)
    x = T.matrix()
    f = theano.function([x], lasagne.layers.get_output(layer, x))
    value = np.arange(6, dtype='float32').reshape(2, 3)
    out = f(value)
    assert out.shape == (2, 4, 3)
    for k in range(4):
        np.testing.assert_array_equal(out[:, k], value)


def test_repeat_layer_gradient_sums_over_copies():
    l_in = lasagne.layers.InputLayer((None, 2))
    x = T.matrix()
    out = lasagne.layers.get_output(RepeatLayer(l_in, n=3), x)
    weights = np.arange(6, dtype='float32').reshape(1, 3, 2)
    grad = T.grad((out * weights).sum(), x)
    g = grad.eval({x: np.ones((1, 2), dtype='float32')})
    np.testing.assert_allclose(g, weights.sum(axis=1))


@pytest.mark.parametrize('n', [0, -1, 2.5])
def test_repeat_layer_rejects_bad_n(n):
    with pytest.raises(ValueError, match='n must'):
        RepeatLayer(lasagne.layers.InputLayer((None, 2)), n=n)


def test_baseline_trainable_parameters_match_original():
    model = build_baseline()
    got = [(p.name, p.get_value().shape) for p in model.trainable_params()]
    assert got == trainable_parameters('baseline')
    # The embedding is fixed to the identity and not trained; hid_init is
    # not trained (the original's Lasagne had learn_init=False).
    names = [p.name for p in model.all_params()]
    assert 'Embedding.W' in names and 'GRUEncoder.hid_init' in names
    np.testing.assert_array_equal(model.l_emb.W.get_value(), np.eye(27))


@pytest.mark.slow
def test_baseline_layer_shapes_match_notebook_print():
    shapes = build_baseline().output_shapes(batch_size=100, input_length=20)
    assert shapes == printed_shapes('baseline')


def numpy_gru(x_onehot, mask, p, prefix='GRUEncoder.'):
    """Lasagne's GRU equations, step by step in NumPy (float64).

    r = sig(x W_xr + h W_hr + b_r), u = sig(x W_xu + h W_hu + b_u),
    c = tanh(x W_xc + r * (h W_hc) + b_c), h' = (1 - u) h + u c;
    where the mask is 0 the previous state is kept.
    """

    def sig(a):
        return 1 / (1 + np.exp(-a))

    def w(name):
        return p[prefix + name].astype('float64')

    batch, steps, _ = x_onehot.shape
    h = np.zeros((batch, w('b_updategate').shape[0]))
    out = []
    for t in range(steps):
        x = x_onehot[:, t]
        r = sig(
            x @ w('W_in_to_resetgate')
            + h @ w('W_hid_to_resetgate')
            + w('b_resetgate')
        )
        u = sig(
            x @ w('W_in_to_updategate')
            + h @ w('W_hid_to_updategate')
            + w('b_updategate')
        )
        c = np.tanh(
            x @ w('W_in_to_hidden_update')
            + r * (h @ w('W_hid_to_hidden_update'))
            + w('b_hidden_update')
        )
        h_new = (1 - u) * h + u * c
        m = mask[:, t : t + 1]
        h = m * h_new + (1 - m) * h
        out.append(h)
    return np.stack(out, axis=1)


def test_gru_encoder_matches_numpy_on_masked_batch(short_baseline):
    model = short_baseline.model
    f = theano.function(
        [model.x_sym, model.xmask_sym], model.get_output(model.l_enc)
    )
    x, xmask, _, _, texts, _ = get_batch(6, 1, 3, rng=np.random.RandomState(7))
    assert len(set(len(t) for t in texts)) > 1  # really different lengths
    # give the biases non-zero values so they are checked too
    biases = [
        p for p in model.all_params() if p.name.startswith('GRUEncoder.b_')
    ]
    saved = [b.get_value() for b in biases]
    rng = np.random.RandomState(0)
    for b in biases:
        b.set_value(rng.normal(0, 0.5, b.get_value().shape).astype('float32'))
    try:
        params = {p.name: p.get_value() for p in model.all_params()}
        got = f(x, xmask)
    finally:
        for b, value in zip(biases, saved):
            b.set_value(value)
    want = numpy_gru(np.eye(27)[x], xmask, params)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # masked steps keep the state: the last column equals the state after
    # each sample's last real character
    lengths = xmask.sum(axis=1).astype(int)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(got[i, -1], got[i, n - 1])
