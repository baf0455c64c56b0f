"""The lab's two networks, built with Lasagne as the notebook builds them.

Both read character codes ``x`` (batch, input length) and an input mask
(batch, input length) and return per-step softmax distributions over the 11
output codes, shape ``(batch, n_decodesteps, 11)``.
"""

import lasagne
import numpy as np
import theano
import theano.tensor as T

from .data_generator import NUM_INPUTS, NUM_OUTPUTS
from .layers import (
    FusedGRULayer,
    LSTMAttentionDecodeFeedbackLayer,
    RepeatLayer,
)
from .seeding import seeded_rngs
from .settings import ENCODERS, MERGES, MODELS

__all__ = [
    'Seq2SeqModel',
    'build_encoder',
    'build_baseline',
    'build_attention',
    'build_model',
    'build_seeded',
    'MODELS',
    'ENCODERS',
    'MERGES',
]


class Seq2SeqModel(object):
    """A built network with the symbolic variables it was tied to.

    Attributes
    ----------
    kind : str
        ``'baseline'`` or ``'attention'``.
    config : dict
        Keyword arguments that rebuild the same network with
        :func:`build_model`.
    x_sym : T.imatrix
        Character codes, (batch, input length).
    y_sym : T.imatrix
        Target codes, (batch, n_decodesteps).
    xmask_sym : T.matrix
        Input mask, (batch, input length).
    l_in, l_mask_enc : InputLayer
        Input layers for ``x_sym`` and ``xmask_sym``.
    l_emb, l_enc, l_dec, l_out : Layer
        Embedding, encoder, decoder and output layers.  ``l_out`` gives
        (batch, n_decodesteps, NUM_OUTPUTS).
    layers : dict
        Every layer by variable name (as in the notebook), in build order.
    printed : list of str
        The layers whose shapes the notebook prints, in its order.
    """

    def __init__(self, kind, config, x_sym, y_sym, xmask_sym, layers, printed):
        self.kind = kind
        self.config = dict(config, model=kind)
        self.x_sym, self.y_sym, self.xmask_sym = x_sym, y_sym, xmask_sym
        self.layers = layers
        self.printed = list(printed)
        for name in ('l_in', 'l_mask_enc', 'l_emb', 'l_enc', 'l_dec', 'l_out'):
            setattr(self, name, layers[name])

    @property
    def input_map(self):
        """``inputs=`` argument for ``lasagne.layers.get_output``."""
        return {self.l_in: self.x_sym, self.l_mask_enc: self.xmask_sym}

    def get_output(self, layer=None, **kwargs):
        """Symbolic output of ``layer`` (default ``l_out``)."""
        return lasagne.layers.get_output(
            self.l_out if layer is None else layer,
            inputs=self.input_map,
            **kwargs,
        )

    def trainable_params(self):
        """Trainable parameters in the notebook's printed order."""
        return lasagne.layers.get_all_params(self.l_out, trainable=True)

    def all_params(self):
        """Every parameter, trainable or not (what is saved)."""
        return lasagne.layers.get_all_params(self.l_out)

    def output_shapes(self, batch_size=100, input_length=20):
        """Shapes of every layer for random input, as the notebook prints.

        Returns
        -------
        list of tuple
            One shape per layer of :attr:`printed`.
        """
        shown = [self.layers[name] for name in self.printed]
        fn = theano.function(
            [self.x_sym, self.xmask_sym],
            [self.get_output(layer) for layer in shown],
            on_unused_input='ignore',
        )
        X = (
            np.random.RandomState(0)
            .randint(0, 10, size=(batch_size, input_length))
            .astype('int32')
        )
        Xmask = np.ones((batch_size, input_length), dtype='float32')
        return [o.shape for o in fn(X, Xmask)]


def _gru(
    incoming, num_units, name, mask_input=None, backwards=False, fused=False
):
    # learn_init=False: the original's Lasagne did not train hid_init.
    cls = FusedGRULayer if fused else lasagne.layers.GRULayer
    return cls(
        incoming,
        num_units=num_units,
        name=name,
        mask_input=mask_input,
        backwards=backwards,
        learn_init=False,
    )


def build_encoder(
    l_emb, l_mask_enc, num_units, encoder='gru', merge='concat', fused=False
):
    """The GRU encoder, or the bidirectional encoder of exercise 3.

    Parameters
    ----------
    l_emb : Layer
        Embedded input, (batch, input length, features).
    l_mask_enc : Layer
        Input mask, (batch, input length).
    num_units : int
        Units of each GRU.
    encoder : {'gru', 'bidirectional'}
    merge : {'concat', 'sum', 'mul'}
        How the bidirectional encoder merges its forward and backward GRU:
        concatenation on axis 2 (width ``2 * num_units``), sum or product.
    fused : bool
        The GRUs as :class:`~.layers.FusedGRULayer` (``fused_gru``).

    Returns
    -------
    l_enc : Layer
        Encoder states, (batch, input length, width).
    l_summary : Layer
        The encoder's summary of the whole input, (batch, width): the
        forward GRU's last step and, if bidirectional, the backward GRU's
        first step (where it has read the whole input).
    """
    if encoder not in ENCODERS:
        raise ValueError(
            'unknown encoder %r (choose from %s)'
            % (encoder, ', '.join(ENCODERS))
        )
    if merge not in MERGES:
        raise ValueError(
            'unknown merge %r (choose from %s)' % (merge, ', '.join(MERGES))
        )
    L = lasagne.layers
    if encoder == 'gru':
        l_enc = _gru(l_emb, num_units, 'GRUEncoder', l_mask_enc, fused=fused)
        return l_enc, L.SliceLayer(l_enc, indices=-1, axis=1)
    l_fwd = _gru(
        l_emb, num_units, 'GRUEncoderForward', l_mask_enc, fused=fused
    )
    l_bwd = _gru(
        l_emb,
        num_units,
        'GRUEncoderBackward',
        l_mask_enc,
        backwards=True,
        fused=fused,
    )
    last = [
        L.SliceLayer(l_fwd, indices=-1, axis=1),
        L.SliceLayer(l_bwd, indices=0, axis=1),
    ]
    if merge == 'concat':
        return (
            L.ConcatLayer([l_fwd, l_bwd], axis=2, name='EncoderConcat'),
            L.ConcatLayer(last, axis=1),
        )
    if merge == 'sum':
        return (
            L.ElemwiseSumLayer([l_fwd, l_bwd], name='EncoderSum'),
            L.ElemwiseSumLayer(last),
        )
    return (
        L.ElemwiseMergeLayer([l_fwd, l_bwd], T.mul, name='EncoderMul'),
        L.ElemwiseMergeLayer(last, T.mul),
    )


def _inputs():
    x_sym = T.imatrix('x')
    y_sym = T.imatrix('y')
    xmask_sym = T.matrix('xmask')
    l_in = lasagne.layers.InputLayer((None, None))
    l_mask_enc = lasagne.layers.InputLayer((None, None))
    l_emb = lasagne.layers.EmbeddingLayer(
        l_in,
        NUM_INPUTS,
        NUM_INPUTS,
        W=np.eye(NUM_INPUTS, dtype='float32'),
        name='Embedding',
    )
    # A fixed one-hot encoding, as in the notebook.
    l_emb.params[l_emb.W].remove('trainable')
    return x_sym, y_sym, xmask_sym, l_in, l_mask_enc, l_emb


def _softmax_output(l_dec, x_sym, num_outputs):
    L = lasagne.layers
    # (batch, steps, units) -> (batch*steps, units) so the softmax acts per
    # step, then back; the batch size is tied to x_sym as in the notebook.
    l_reshape = L.ReshapeLayer(l_dec, (-1, [2]))
    l_softmax = L.DenseLayer(
        l_reshape,
        num_units=num_outputs,
        nonlinearity=lasagne.nonlinearities.softmax,
        name='SoftmaxOutput',
    )
    l_out = L.ReshapeLayer(l_softmax, (x_sym.shape[0], -1, num_outputs))
    return l_reshape, l_softmax, l_out


def build_baseline(
    num_units_enc=10,
    num_units_dec=10,
    max_digits=20,
    encoder='gru',
    merge='concat',
    fused_gru=False,
):
    """GRU encoder -> last state repeated -> GRU decoder -> softmax.

    Parameters
    ----------
    num_units_enc, num_units_dec : int
        GRU sizes (the notebook's ``NUM_UNITS_ENC``, ``NUM_UNITS_DEC``).
    max_digits : int
        The decoder runs ``max_digits + 1`` steps (room for ``'#'``).
    encoder, merge : str
        See :func:`build_encoder`.
    fused_gru : bool
        Every GRU's recurrence as one fused op
        (:class:`~.layers.FusedGRULayer`): the same up to float rounding.

    Returns
    -------
    Seq2SeqModel
        Layers ``l_emb`` (B, L, 27), ``l_enc`` (B, L, E), ``l_last_hid``
        (B, E), ``l_in_rep`` (B, D, E), ``l_dec`` (B, D, U), ``l_reshape``
        (B*D, U), ``l_softmax`` (B*D, 11), ``l_out`` (B, D, 11), with
        ``D = max_digits + 1``.
    """
    config = dict(
        num_units_enc=num_units_enc,
        num_units_dec=num_units_dec,
        max_digits=max_digits,
        encoder=encoder,
        merge=merge,
        fused_gru=fused_gru,
    )
    x_sym, y_sym, xmask_sym, l_in, l_mask_enc, l_emb = _inputs()
    l_enc, l_last_hid = build_encoder(
        l_emb, l_mask_enc, num_units_enc, encoder, merge, fused_gru
    )
    l_in_rep = RepeatLayer(l_last_hid, n=max_digits + 1)
    l_dec = _gru(l_in_rep, num_units_dec, 'GRUDecoder', fused=fused_gru)
    l_reshape, l_softmax, l_out = _softmax_output(l_dec, x_sym, NUM_OUTPUTS)
    layers = dict(
        l_in=l_in,
        l_mask_enc=l_mask_enc,
        l_emb=l_emb,
        l_enc=l_enc,
        l_last_hid=l_last_hid,
        l_in_rep=l_in_rep,
        l_dec=l_dec,
        l_reshape=l_reshape,
        l_softmax=l_softmax,
        l_out=l_out,
    )
    printed = [name for name in layers if name not in ('l_in', 'l_mask_enc')]
    return Seq2SeqModel(
        'baseline', config, x_sym, y_sym, xmask_sym, layers, printed
    )


def build_attention(
    num_units_enc=10,
    num_units_dec=10,
    aln_num_units=20,
    max_digits=20,
    encoder='gru',
    merge='concat',
    unroll_scan=False,
    fused_attention=False,
    decoder_mask=False,
    fused_gru=False,
):
    """GRU encoder -> LSTM decoder attending over it -> softmax.

    Parameters
    ----------
    num_units_enc, num_units_dec : int
        Encoder GRU and decoder LSTM sizes.
    aln_num_units : int
        Size of the alignment (attention) network.
    max_digits : int
        The decoder runs ``max_digits + 1`` steps.
    encoder, merge : str
        See :func:`build_encoder`.
    unroll_scan : bool
        Unroll the decoder's steps instead of ``theano.scan``.
    fused_attention : bool
        The decoder's scores and context from fused ops (see
        :mod:`seq2seq_lasagne.layers.fused_attention`).
    decoder_mask : bool
        Give the decoder the input mask, so padded positions get no
        attention.  The notebook does not (False): its decoder also attends
        to the padding, where the GRU encoder repeats its last state.
    fused_gru : bool
        The encoder's recurrence as one fused op, see
        :func:`build_baseline`.

    Returns
    -------
    Seq2SeqModel
        Layers ``l_emb`` (B, L, 27), ``l_enc`` (B, L, E), ``l_dec``
        (B, D, E) context vectors, ``l_reshape`` (B*D, E), ``l_softmax``
        (B*D, 11), ``l_out`` (B, D, 11), with ``D = max_digits + 1``.
        After ``get_output``, ``l_dec.alpha`` holds the attention weights
        (B, D, L).
    """
    config = dict(
        num_units_enc=num_units_enc,
        num_units_dec=num_units_dec,
        aln_num_units=aln_num_units,
        max_digits=max_digits,
        encoder=encoder,
        merge=merge,
        unroll_scan=unroll_scan,
        fused_attention=fused_attention,
        decoder_mask=decoder_mask,
        fused_gru=fused_gru,
    )
    x_sym, y_sym, xmask_sym, l_in, l_mask_enc, l_emb = _inputs()
    l_enc, _ = build_encoder(
        l_emb, l_mask_enc, num_units_enc, encoder, merge, fused_gru
    )
    l_dec = LSTMAttentionDecodeFeedbackLayer(
        l_enc,
        num_units=num_units_dec,
        aln_num_units=aln_num_units,
        n_decodesteps=max_digits + 1,
        unroll_scan=unroll_scan,
        fused_attention=fused_attention,
        mask_input=l_mask_enc if decoder_mask else None,
        name='LSTMDecoder',
    )
    l_reshape, l_softmax, l_out = _softmax_output(l_dec, x_sym, NUM_OUTPUTS)
    layers = dict(
        l_in=l_in,
        l_mask_enc=l_mask_enc,
        l_emb=l_emb,
        l_enc=l_enc,
        l_dec=l_dec,
        l_reshape=l_reshape,
        l_softmax=l_softmax,
        l_out=l_out,
    )
    return Seq2SeqModel(
        'attention',
        config,
        x_sym,
        y_sym,
        xmask_sym,
        layers,
        ['l_emb', 'l_enc', 'l_dec', 'l_out'],
    )


def build_model(model='baseline', **config):
    """Build a network by name; ``config`` goes to its builder."""
    builders = {'baseline': build_baseline, 'attention': build_attention}
    if model not in builders:
        raise ValueError(
            'unknown model %r (choose from %s)'
            % (model, ', '.join(sorted(builders)))
        )
    return builders[model](**config)


def build_seeded(model, seed, **config):
    """Build a network whose initial weights depend only on ``seed``.

    The weights are drawn from the ``'init'`` stream of
    :func:`~seq2seq_lasagne.seeding.seeded_rngs`, through Lasagne's
    generator (``lasagne.random.set_rng``), which stays set afterwards.
    """
    lasagne.random.set_rng(seeded_rngs(seed)['init'])
    return build_model(model, **config)
