"""Exercise 3 of part 1: the bidirectional encoder of the encoder-decoder.

Autograded: the visible tests check the layers and what they compute; the
hidden tests compare the values with the package's
``seq2seq_lasagne.models.build_encoder`` given the same weights.
"""
# ruff: noqa: E402, F821

# %% [markdown] readonly id=ex3_task
# ### Exercise 3 (6 points): a bidirectional encoder
#
# Complete `bidirectional_encoder(l_emb, l_mask_enc, num_units, merge)`
# with Lasagne's layers: a forward GRU and a backward GRU
# (`backwards=True`), both reading `l_emb`, both with `num_units` units,
# the input mask `mask_input=l_mask_enc` and `learn_init=False` (as the
# lab's encoder). It returns two layers:
#
# - `l_enc`, the two state sequences merged: for `merge='concat'`
#   concatenated on the feature axis (width `2 * num_units`), for `'sum'`
#   added, for `'mul'` multiplied element by element (width `num_units`);
#   see [Lasagne's merge
#   layers](http://lasagne.readthedocs.org/en/latest/modules/layers/merge.html).
#   Shape (batch, input length, width).
# - `l_last_hid`, what the decoder gets: the encoder's summary of the whole
#   input, the forward GRU's **last** state and the backward GRU's
#   **first** state (where it has read the whole input), merged in the
#   same way. Shape (batch, width).
#
# To try it in the lab's network, build the model cell again with
# `l_enc, l_last_hid = bidirectional_encoder(l_emb, l_mask_enc,
# NUM_UNITS_ENC, 'concat')` in place of the encoder GRU and its slice.


# %% solution id=ex3_code
def bidirectional_encoder(l_emb, l_mask_enc, num_units, merge='concat'):
    """A forward and a backward GRU over ``l_emb``, merged.

    Returns ``(l_enc, l_last_hid)``: the merged state sequences, (batch,
    input length, width), and the merged summary, (batch, width).
    """
    ### BEGIN SOLUTION
    L = lasagne.layers
    l_fwd = L.GRULayer(
        l_emb, num_units, mask_input=l_mask_enc, learn_init=False
    )
    l_bwd = L.GRULayer(
        l_emb,
        num_units,
        mask_input=l_mask_enc,
        learn_init=False,
        backwards=True,
    )
    last = [
        L.SliceLayer(l_fwd, indices=-1, axis=1),
        L.SliceLayer(l_bwd, indices=0, axis=1),
    ]
    if merge == 'concat':
        return (
            L.ConcatLayer([l_fwd, l_bwd], axis=2),
            L.ConcatLayer(last, axis=1),
        )
    if merge == 'sum':
        return L.ElemwiseSumLayer([l_fwd, l_bwd]), L.ElemwiseSumLayer(last)
    if merge == 'mul':
        return (
            L.ElemwiseMergeLayer([l_fwd, l_bwd], T.mul),
            L.ElemwiseMergeLayer(last, T.mul),
        )
    raise ValueError('unknown merge %r' % merge)
    ### END SOLUTION


# %% include encoder_helpers.py


# %% tests id=ex3_structure points=2
# Tests: the layers of the encoder, for each merge (2 points).
def test_ex3_structure():
    source = inspect.getsource(bidirectional_encoder)
    assert 'seq2seq_lasagne' not in source, (
        'build it with Lasagne, not with the package'
    )
    for merge, width in MERGE_WIDTH.items():
        l_in, l_emb, l_mask = encoder_inputs()
        with quietly():
            l_enc, l_last = bidirectional_encoder(
                l_emb, l_mask, ENCODER_UNITS, merge
            )
        assert l_enc.output_shape == (None, None, width), (
            merge,
            l_enc.output_shape,
        )
        assert l_last.output_shape == (None, width), (
            merge,
            l_last.output_shape,
        )
        check_gru_pair(gru_layers(l_enc, l_last), l_emb, l_mask)


with quietly():
    test_ex3_structure()


# %% tests id=ex3_values points=4
# Tests: what the encoder computes on a fixed batch (4 points).
def test_ex3_values():
    l_in, l_emb, l_mask = encoder_inputs()
    outputs = []
    for merge in MERGE_WIDTH:
        with quietly():
            l_enc, l_last = bidirectional_encoder(
                l_emb, l_mask, ENCODER_UNITS, merge
            )
        set_gru_weights(gru_layers(l_enc, l_last))
        outputs += [l_enc, l_last]
    f = compile_outputs(l_in, l_mask, outputs)
    values = dict(zip(MERGE_WIDTH, zip(*[iter(f(EX3_X, EX3_XMASK))] * 2)))
    batch, length = EX3_X.shape
    for merge, width in MERGE_WIDTH.items():
        enc, last = values[merge]
        assert enc.shape == (batch, length, width), (merge, enc.shape)
        assert last.shape == (batch, width), (merge, last.shape)
        assert np.all(np.isfinite(enc)) and np.all(np.isfinite(last))
    # The same GRU weights for every merge: concat holds both directions.
    enc, last = values['concat']
    fwd, bwd = enc[..., :ENCODER_UNITS], enc[..., ENCODER_UNITS:]
    assert np.allclose(values['sum'][0], fwd + bwd, atol=1e-5)
    assert np.allclose(values['mul'][0], fwd * bwd, atol=1e-5)
    # The summary: the forward GRU's last state, the backward GRU's first.
    assert np.allclose(last[:, :ENCODER_UNITS], fwd[:, -1], atol=1e-5), (
        "l_last_hid: the forward GRU's last state"
    )
    assert np.allclose(last[:, ENCODER_UNITS:], bwd[:, 0], atol=1e-5), (
        "l_last_hid: the backward GRU's first state"
    )
    ### BEGIN HIDDEN TESTS
    from seq2seq_lasagne.models import build_encoder

    reference = []
    for merge in MERGE_WIDTH:
        pair = build_encoder(
            l_emb, l_mask, ENCODER_UNITS, 'bidirectional', merge
        )
        set_gru_weights(gru_layers(*pair))
        reference += list(pair)
    expected = compile_outputs(l_in, l_mask, reference)(EX3_X, EX3_XMASK)
    for ours, theirs in zip(f(EX3_X, EX3_XMASK), expected):
        assert np.allclose(ours, theirs, atol=1e-5)
    # Padding changes neither the summary nor the states of the characters.
    pad = np.zeros((batch, 7), 'int32')
    padded = f(
        np.concatenate([EX3_X, pad], 1),
        np.concatenate([EX3_XMASK, pad.astype('float32')], 1),
    )
    real = EX3_XMASK.astype(bool)
    for merge, (enc, last) in values.items():
        enc_padded, last_padded = padded[0], padded[1]
        padded = padded[2:]
        assert np.allclose(last_padded, last, atol=1e-5), merge
        assert np.allclose(enc_padded[:, :length][real], enc[real], atol=1e-5)
    ### END HIDDEN TESTS


with quietly():
    test_ex3_values()
