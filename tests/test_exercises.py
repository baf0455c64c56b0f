"""The reusable parts of the exercises' solutions.

Exercise 3 (a bidirectional encoder: forward and backward GRU merged by
concatenation, sum or product) and exercise 4 (targets of different
lengths: the target mask in the cost and the accuracy), as the solutions
notebooks use them from the package.  The graphs are checked symbolically
where possible; three small functions are compiled.
"""

import lasagne
import numpy as np
import pytest
import theano
import theano.tensor as T

from seq2seq_lasagne.data_generator import get_batch
from seq2seq_lasagne.metrics import sequence_metrics
from seq2seq_lasagne.models import MERGES, build_attention, build_baseline
from seq2seq_lasagne.objectives import sequence_accuracy, sequence_cost
from seq2seq_lasagne.settings import RunSettings
from seq2seq_lasagne.variants import VariantRunner

GRU_PARAMS = [
    'W_in_to_updategate',
    'W_hid_to_updategate',
    'b_updategate',
    'W_in_to_resetgate',
    'W_hid_to_resetgate',
    'b_resetgate',
    'W_in_to_hidden_update',
    'W_hid_to_hidden_update',
    'b_hidden_update',
]
WIDTH = {'concat': 20, 'sum': 10, 'mul': 10}


def shapes(model):
    return [(str(p), p.get_value().shape) for p in model.trainable_params()]


def encoder_shapes(n_in=27, units=10):
    out = []
    for gru in ('GRUEncoderForward', 'GRUEncoderBackward'):
        for name in GRU_PARAMS:
            rows = n_in if name.startswith('W_in') else units
            out.append(
                (
                    '%s.%s' % (gru, name),
                    (units,) if name.startswith('b_') else (rows, units),
                )
            )
    return out


def layer_named(model, name):
    matches = [
        layer
        for layer in lasagne.layers.get_all_layers(model.l_out)
        if layer.name == name
    ]
    assert len(matches) == 1, name
    return matches[0]


# --------------------------------------------------------------------------
# Exercise 3: the bidirectional encoder, built symbolically


@pytest.mark.parametrize('merge', MERGES)
def test_bidirectional_baseline_parameters_and_widths(merge):
    model = build_baseline(encoder='bidirectional', merge=merge)
    width = WIDTH[merge]
    decoder = [
        (
            'GRUDecoder.%s' % name,
            (10,)
            if name.startswith('b_')
            else ((width if name.startswith('W_in') else 10), 10),
        )
        for name in GRU_PARAMS
    ]
    assert shapes(model) == encoder_shapes() + decoder + [
        ('SoftmaxOutput.W', (10, 11)),
        ('SoftmaxOutput.b', (11,)),
    ]
    # No learnt initial states (the original's Lasagne did not learn them).
    assert not any('hid_init' in str(p) for p in model.trainable_params())
    assert model.l_enc.output_shape == (None, None, width)
    assert model.layers['l_last_hid'].output_shape == (None, width)
    assert model.layers['l_in_rep'].output_shape == (None, 21, width)
    assert model.l_out.output_shape[-1] == 11


@pytest.mark.parametrize('merge', MERGES)
def test_bidirectional_attention_parameters_and_widths(merge):
    model = build_attention(encoder='bidirectional', merge=merge)
    width = WIDTH[merge]
    got = dict(shapes(model))
    assert [n for n, _ in shapes(model)][:18] == [
        n for n, _ in encoder_shapes()
    ]
    for gate in ('ingate', 'forgetgate', 'cell', 'outgate'):
        assert got['LSTMDecoder.W_weightedhid_to_%s' % gate] == (width, 10)
        assert got['LSTMDecoder.W_hid_to_%s' % gate] == (10, 10)
    assert got['LSTMDecoder.AlignSeqOutputLayer: (aln) U_a'] == (width, 20)
    assert got['LSTMDecoder.AlignSeqOutputLayer: (aln) W_a'] == (10, 20)
    assert got['LSTMDecoder.AlignSeqOutputLayer: v_a'] == (20, 1)
    # The decoder returns context vectors, as wide as the encoder states.
    assert got['SoftmaxOutput.W'] == (width, 11)
    assert model.l_enc.output_shape == (None, None, width)
    assert model.l_dec.output_shape == (None, 21, width)
    assert not any('hid_init' in n for n in got)


def test_attention_concat_example_from_the_solutions():
    got = dict(
        shapes(build_attention(encoder='bidirectional', merge='concat'))
    )
    assert got['LSTMDecoder.W_weightedhid_to_ingate'] == (20, 10)
    assert got['LSTMDecoder.AlignSeqOutputLayer: (aln) U_a'] == (20, 20)


@pytest.mark.parametrize('builder', [build_baseline, build_attention])
@pytest.mark.parametrize('merge', MERGES)
def test_bidirectional_encoder_structure(builder, merge):
    model = builder(encoder='bidirectional', merge=merge)
    fwd = layer_named(model, 'GRUEncoderForward')
    bwd = layer_named(model, 'GRUEncoderBackward')
    assert not fwd.backwards and bwd.backwards
    # Both directions read the input mask.
    for gru in (fwd, bwd):
        assert gru.input_layers[1] is model.l_mask_enc
        assert gru.input_layers[0] is model.l_emb
    assert model.l_enc.input_layers == [fwd, bwd]
    if merge == 'concat':
        assert isinstance(model.l_enc, lasagne.layers.ConcatLayer)
        assert model.l_enc.axis == 2
    elif merge == 'sum':
        assert isinstance(model.l_enc, lasagne.layers.ElemwiseSumLayer)
    else:
        assert isinstance(model.l_enc, lasagne.layers.ElemwiseMergeLayer)
        assert model.l_enc.merge_function is T.mul


@pytest.mark.parametrize('merge', MERGES)
def test_bidirectional_baseline_summary_is_forward_last_backward_first(merge):
    # Symbolic: the decoder's input is made of the forward GRU's last step
    # and the backward GRU's first step (which has read the whole input).
    model = build_baseline(encoder='bidirectional', merge=merge)
    summary = model.layers['l_last_hid']
    fwd = layer_named(model, 'GRUEncoderForward')
    bwd = layer_named(model, 'GRUEncoderBackward')
    slices = summary.input_layers
    assert [s.input_layer for s in slices] == [fwd, bwd]
    assert [s.slice for s in slices] == [-1, 0]
    assert all(s.axis == 1 for s in slices)


def test_bidirectional_summary_values_on_a_padded_batch():
    # Compiled function 1: encoder states and the summary of the
    # concatenating bidirectional baseline, on inputs of different lengths.
    lasagne.random.set_rng(np.random.RandomState(5))
    model = build_baseline(encoder='bidirectional', merge='concat')
    fwd = layer_named(model, 'GRUEncoderForward')
    bwd = layer_named(model, 'GRUEncoderBackward')
    fn = theano.function(
        [model.x_sym, model.xmask_sym],
        [
            model.get_output(fwd),
            model.get_output(bwd),
            model.get_output(model.layers['l_last_hid']),
            model.get_output(model.l_enc),
        ],
    )
    x, xmask, _, _, texts, _ = get_batch(6, 1, 4, rng=np.random.RandomState(2))
    assert xmask.min() == 0  # some padding
    h_fwd, h_bwd, summary, states = fn(x, xmask)
    assert summary.shape == (6, 20) and states.shape == x.shape + (20,)
    np.testing.assert_allclose(summary[:, :10], h_fwd[:, -1], rtol=1e-6)
    np.testing.assert_allclose(summary[:, 10:], h_bwd[:, 0], rtol=1e-6)
    np.testing.assert_allclose(
        states, np.concatenate([h_fwd, h_bwd], 2), rtol=1e-6
    )
    for i, text in enumerate(texts):
        n = len(text)
        # The masked forward GRU keeps its state over the padding: its last
        # step is its state after the last real character.
        np.testing.assert_allclose(h_fwd[i, -1], h_fwd[i, n - 1], rtol=1e-6)
        # The backward GRU starts after the padding and ends on the first
        # character: its states differ along the input.
        assert not np.allclose(h_bwd[i, 0], h_bwd[i, n - 1])
    # The backward GRU's first step depends on the first character, which
    # the forward GRU read first: change it and see.
    x2 = x.copy()
    x2[:, 0] = np.where(x[:, 0] == 17, 22, 17)
    h_fwd2, h_bwd2, _, _ = fn(x2, xmask)
    assert not np.allclose(h_bwd2[:, 0], h_bwd[:, 0])
    assert not np.allclose(h_fwd2[:, 0], h_fwd[:, 0])


# --------------------------------------------------------------------------
# Exercise 4: the target mask


@pytest.fixture(scope='module')
def cost_functions():
    """Compiled function 2: masked and unmasked cost/accuracy and the
    masked cost's gradient with respect to the output."""
    output = T.tensor3('output')
    y = T.imatrix('y')
    ymask = T.matrix('ymask')
    masked = sequence_cost(output, y, ymask)
    unmasked = sequence_cost(output, y)
    # The notebook's own expression, for the last test of this group.
    notebook = T.mean(
        T.nnet.categorical_crossentropy(
            T.reshape(output, (-1, 11)), y.flatten()
        )
    )
    return theano.function(
        [output, y, ymask],
        [
            masked,
            sequence_accuracy(output, y, ymask),
            unmasked,
            sequence_accuracy(output, y),
            T.grad(masked, output),
            T.grad(unmasked, output),
            notebook,
            T.grad(notebook, output),
        ],
        on_unused_input='ignore',
    )


def random_softmax(rng, shape):
    z = rng.normal(size=shape)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype('float32')


def test_masked_cost_and_accuracy_match_numpy(cost_functions):
    rng = np.random.RandomState(0)
    _, _, y, ymask, _, _ = get_batch(8, 1, 6, rng=rng)
    assert 0 < ymask.mean() < 1
    output = random_softmax(rng, y.shape + (11,))
    # Make the padding trivially right, as a trained unmasked model does.
    output[ymask == 0] = 0.001
    output[..., 0][ymask == 0] = 0.99
    cost, acc, cost_all, acc_all, grad = cost_functions(output, y, ymask)[:5]

    picked = np.take_along_axis(output, y[..., None], axis=-1)[..., 0]
    nll = -np.log(picked)
    real = ymask.astype(bool)
    correct = output.argmax(-1) == y
    np.testing.assert_allclose(cost, nll[real].mean(), rtol=1e-5)
    np.testing.assert_allclose(acc, correct[real].mean(), rtol=1e-6)
    np.testing.assert_allclose(cost_all, nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(acc_all, correct.mean(), rtol=1e-6)
    # Padding does not count: the unmasked figures differ, inflated by it.
    assert acc_all > acc + 0.1
    assert cost_all < cost
    # ... and no gradient flows from padded positions.
    assert np.all(grad[~real] == 0)
    assert np.all(np.abs(grad[real]).sum(-1) > 0)
    # The package's numpy helper agrees.
    metrics = sequence_metrics(output, y, ymask)
    assert metrics['masked'] == pytest.approx(float(acc), rel=1e-6)
    assert metrics['unmasked'] == pytest.approx(float(acc_all), rel=1e-6)
    assert metrics['padding'] == 1.0
    assert metrics['padding_share'] == pytest.approx(1 - ymask.mean())


def test_masked_cost_ignores_targets_under_the_mask(cost_functions):
    rng = np.random.RandomState(1)
    _, _, y, ymask, _, _ = get_batch(5, 2, 5, rng=rng)
    output = random_softmax(rng, y.shape + (11,))
    other = y.copy()
    other[ymask == 0] = rng.randint(0, 11, size=int((ymask == 0).sum()))
    a = cost_functions(output, y, ymask)
    b = cost_functions(output, other, ymask)
    assert a[0] == pytest.approx(float(b[0]))
    assert a[1] == pytest.approx(float(b[1]))
    assert a[2] != pytest.approx(float(b[2]))


def test_cost_is_the_notebooks_cross_entropy(cost_functions):
    # sequence_cost indexes the target probabilities instead of calling
    # T.nnet.categorical_crossentropy (a Python loop in Theano 1.0.5); the
    # gradient that trains the model must be the same to the bit.
    rng = np.random.RandomState(2)
    _, _, y, ymask, _, _ = get_batch(16, 1, 8, rng=rng)
    output = random_softmax(rng, y.shape + (11,))
    out = cost_functions(output, y, ymask)
    cost, grad, notebook_cost, notebook_grad = out[2], out[5], out[6], out[7]
    np.testing.assert_array_equal(grad, notebook_grad)
    np.testing.assert_allclose(cost, notebook_cost, rtol=1e-6)
    assert np.count_nonzero(grad) == y.size  # one entry per target


def test_sequence_metrics_by_hand():
    # Two samples, 3 positions; sample 0 has one padded position.
    targets = np.array([[1, 10, 0], [2, 3, 10]])
    mask = np.array([[1, 1, 0], [1, 1, 1]], dtype='float32')
    predicted = np.array([[1, 10, 0], [2, 4, 10]])
    output = np.eye(11)[predicted]
    m = sequence_metrics(output, targets, mask)
    assert m['unmasked'] == pytest.approx(5 / 6)
    assert m['masked'] == pytest.approx(4 / 5)
    assert m['padding'] == 1.0
    assert m['padding_share'] == pytest.approx(1 / 6)
    assert m['sequence'] == 0.5
    no_padding = sequence_metrics(output, targets, np.ones((2, 3)))
    assert np.isnan(no_padding['padding'])


def test_variable_lengths_default_to_the_masked_cost():
    assert RunSettings(min_digits=5, max_digits=20).target_mask
    assert not RunSettings(min_digits=20, max_digits=20).target_mask
    assert not RunSettings(
        min_digits=5, max_digits=20, target_mask=False
    ).target_mask


# --------------------------------------------------------------------------
# The solutions' runner: one compiled graph, fresh weights for each variant


def test_variant_runner_reuses_a_compiled_trainer(short_baseline):
    runner = VariantRunner(seed=0, val_interval=500, log=None)
    # Hand it the session's compiled 3-digit baseline (same configuration).
    key = runner.graph_key(RunSettings(min_digits=3, max_digits=3))
    runner.trainers[key] = short_baseline
    validation = runner.validation_set(200, 3, 3)
    a = runner.run('a', 1000, validation, min_digits=3, max_digits=3)
    b = runner.run('b', 1000, validation, min_digits=3, max_digits=3)
    assert runner.trainers == {key: short_baseline}
    assert a.trainer is b.trainer is short_baseline
    assert runner.compile_seconds == 0
    # Same seed, fresh weights and Adam state: the same run twice.
    assert [h['samples'] for h in a.history] == [500, 1000]

    def without_nan(history):
        return [
            {k: v for k, v in row.items() if k != 'padding'} for row in history
        ]

    assert without_nan(a.history) == without_nan(b.history)
    assert a.costs == b.costs
    for row in a.history:
        assert {'masked', 'unmasked', 'padding', 'sequence'} <= set(row)
        # Fixed-length targets: nothing is padded.
        assert row['masked'] == pytest.approx(row['unmasked'])
        assert np.isnan(row['padding']) and row['padding_share'] == 0
    assert list(runner.runs) == ['a', 'b']
