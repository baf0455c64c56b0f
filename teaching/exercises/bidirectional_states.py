"""Exercise 3 of part 2: the bidirectional encoder of the attention model.

Autograded: the visible tests check the layers, what they compute and that
the attention decoder fits them; the hidden tests compare the values with
``seq2seq_lasagne.models.build_encoder`` given the same weights.
"""
# ruff: noqa: E402, F821

# %% [markdown] readonly id=ex3_task
# ### Exercise 3 (6 points): a bidirectional encoder for the attention model
#
# The decoder of part 2 attends over every encoder state, so an encoder
# that reads both ways lets every state describe its whole neighbourhood.
# Complete `bidirectional_states(l_emb, l_mask_enc, num_units, merge)`
# with Lasagne's layers: a forward GRU and a backward GRU
# (`backwards=True`), both reading `l_emb`, both with `num_units` units,
# the input mask `mask_input=l_mask_enc` and `learn_init=False` (as the
# lab's encoder), their state sequences merged: for `merge='concat'`
# concatenated on the feature axis (width `2 * num_units`), for `'sum'`
# added, for `'mul'` multiplied element by element (width `num_units`).
# It returns the merged layer, shape (batch, input length, width), which
# the `LSTMAttentionDecodeFeedbackLayer` then reads in place of `l_enc`.


# %% solution id=ex3_code
def bidirectional_states(l_emb, l_mask_enc, num_units, merge='concat'):
    """A forward and a backward GRU over ``l_emb``, merged: (batch,
    input length, width)."""
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
    if merge == 'concat':
        return L.ConcatLayer([l_fwd, l_bwd], axis=2)
    if merge == 'sum':
        return L.ElemwiseSumLayer([l_fwd, l_bwd])
    if merge == 'mul':
        return L.ElemwiseMergeLayer([l_fwd, l_bwd], T.mul)
    raise ValueError('unknown merge %r' % merge)
    ### END SOLUTION


# %% include encoder_helpers.py


# %% tests id=ex3_structure points=2
# Tests: the layers, and the attention decoder reading them (2 points).
def test_ex3_structure():
    from seq2seq_lasagne.layers import LSTMAttentionDecodeFeedbackLayer

    source = inspect.getsource(bidirectional_states)
    assert 'seq2seq_lasagne' not in source, (
        'build it with Lasagne, not with the package'
    )
    for merge, width in MERGE_WIDTH.items():
        l_in, l_emb, l_mask = encoder_inputs()
        with quietly():
            l_enc = bidirectional_states(l_emb, l_mask, ENCODER_UNITS, merge)
        assert l_enc.output_shape == (None, None, width), (
            merge,
            l_enc.output_shape,
        )
        check_gru_pair(gru_layers(l_enc), l_emb, l_mask)
        with quietly():
            l_dec = LSTMAttentionDecodeFeedbackLayer(
                l_enc, num_units=10, aln_num_units=20, n_decodesteps=4
            )
        assert l_dec.W_weightedhid_to_ingate.get_value().shape == (width, 10)
        assert l_dec.U_a.get_value().shape == (width, 20)
        assert l_dec.output_shape == (None, 4, width)


with quietly():
    test_ex3_structure()


# %% tests id=ex3_values points=4
# Tests: what the encoder computes on a fixed batch (4 points).
def test_ex3_values():
    l_in, l_emb, l_mask = encoder_inputs()
    outputs = []
    for merge in MERGE_WIDTH:
        with quietly():
            l_enc = bidirectional_states(l_emb, l_mask, ENCODER_UNITS, merge)
        set_gru_weights(gru_layers(l_enc))
        outputs.append(l_enc)
    f = compile_outputs(l_in, l_mask, outputs)
    values = dict(zip(MERGE_WIDTH, f(EX3_X, EX3_XMASK)))
    batch, length = EX3_X.shape
    for merge, width in MERGE_WIDTH.items():
        assert values[merge].shape == (batch, length, width), merge
        assert np.all(np.isfinite(values[merge]))
    # The same GRU weights for every merge: concat holds both directions.
    enc = values['concat']
    fwd, bwd = enc[..., :ENCODER_UNITS], enc[..., ENCODER_UNITS:]
    assert np.allclose(values['sum'], fwd + bwd, atol=1e-5)
    assert np.allclose(values['mul'], fwd * bwd, atol=1e-5)
    ### BEGIN HIDDEN TESTS
    from seq2seq_lasagne.models import build_encoder

    reference = []
    for merge in MERGE_WIDTH:
        ref_enc, ref_last = build_encoder(
            l_emb, l_mask, ENCODER_UNITS, 'bidirectional', merge
        )
        set_gru_weights(gru_layers(ref_enc, ref_last))
        reference.append(ref_enc)
    expected = compile_outputs(l_in, l_mask, reference)(EX3_X, EX3_XMASK)
    for merge, theirs in zip(MERGE_WIDTH, expected):
        assert np.allclose(values[merge], theirs, atol=1e-5), merge
    # Padding does not change the states of the real characters.
    pad = np.zeros((batch, 7), 'int32')
    padded = f(
        np.concatenate([EX3_X, pad], 1),
        np.concatenate([EX3_XMASK, pad.astype('float32')], 1),
    )
    real = EX3_XMASK.astype(bool)
    for merge, enc_padded in zip(MERGE_WIDTH, padded):
        ours = values[merge][real]
        assert np.allclose(enc_padded[:, :length][real], ours, atol=1e-5)
    ### END HIDDEN TESTS


with quietly():
    test_ex3_values()
