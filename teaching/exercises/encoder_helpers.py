"""Read-only helpers of the bidirectional-encoder tests (both parts).

They build a student's encoder on fresh input layers, find its GRUs, give
them fixed weights and compile its outputs, so that the tests compare
behaviour, whatever the layers are called or in which order they are made.
"""
# ruff: noqa: E402, F821

# %% readonly id=ex3_helpers
# Helpers of the exercise 3 tests (read-only).
ENCODER_UNITS = 4
#: Width of the merged states per merge, with 4 units per GRU.
MERGE_WIDTH = {'concat': 8, 'sum': 4, 'mul': 4}
#: A fixed batch of 5 inputs of 1 to 3 digits (shorter ones are padded).
EX3_X, EX3_XMASK = get_batch(5, 1, 3, rng=np.random.RandomState(3))[:2]


def encoder_inputs():
    """Fresh input, embedding and mask layers, as in the lab."""
    l_in = lasagne.layers.InputLayer((None, None))
    l_emb = lasagne.layers.EmbeddingLayer(
        l_in, 27, 27, W=np.eye(27, dtype='float32')
    )
    l_mask = lasagne.layers.InputLayer((None, None))
    return l_in, l_emb, l_mask


def gru_layers(*layers):
    """The distinct GRU layers below ``layers``, forward ones first."""
    found = []
    for layer in lasagne.layers.get_all_layers(list(layers)):
        if isinstance(layer, lasagne.layers.GRULayer) and layer not in found:
            found.append(layer)
    return sorted(found, key=lambda gru: gru.backwards)


def set_gru_weights(grus, seed=0):
    """Fixed weights: the same for the same GRUs (forward, backward)."""
    rng = np.random.RandomState(seed)
    for gru in grus:
        for param in gru.get_params():
            shape = param.get_value().shape
            param.set_value(rng.normal(0, 0.5, shape).astype(param.dtype))


def compile_outputs(l_in, l_mask, layers):
    """A function of (x, xmask) returning the outputs of ``layers``."""
    x, xmask = T.imatrix('x'), T.matrix('xmask')
    with quietly():
        outputs = lasagne.layers.get_output(
            layers, inputs={l_in: x, l_mask: xmask}
        )
        return theano.function([x, xmask], outputs, on_unused_input='ignore')


def check_gru_pair(grus, l_emb, l_mask):
    """One forward and one backward GRU over the embedding, masked."""
    assert len(grus) == 2, (
        'use one forward and one backward GRU (found %d GRU layers)'
        % len(grus)
    )
    assert [gru.backwards for gru in grus] == [False, True], (
        'one GRU reads forwards, the other backwards (backwards=True)'
    )
    for gru in grus:
        assert gru.num_units == ENCODER_UNITS, 'use num_units units'
        assert gru.input_layers[0] is l_emb, 'the GRUs read the embedding'
        assert l_mask in gru.input_layers, 'give both GRUs the input mask'
        assert 'trainable' not in gru.params[gru.hid_init], (
            'learn_init=False, as in the lab'
        )
