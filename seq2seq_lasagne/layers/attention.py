"""``LSTMAttentionDecodeFeedbackLayer``: an LSTM decoder that attends.

The layer of the lab's second network.  It takes no input sequence of its
own: it runs ``n_decodesteps`` LSTM steps and, at each step, scores every
encoder state against the previous decoder state, turns the scores into
attention weights ``alpha`` and feeds the weighted sum of the encoder
states (the context) into the LSTM gates.
"""

import warnings

import lasagne
import numpy as np
import theano
import theano.tensor as T
from lasagne import init, nonlinearities
from lasagne.layers import Gate, Layer, MergeLayer
from theano.tensor.extra_ops import cpu_contiguous

from .fused_attention import BatchedMatVec, alignment_scores

__all__ = [
    'LSTMAttentionDecodeFeedbackLayer',
    'softmax_last_axis',
    'weighted_sum',
]

#: Added to the scores of padded encoder positions (after multiplying them
#: by the mask), as the original does.
MASK_PENALTY = 10000.0


def softmax_last_axis(x):
    """Softmax over the last axis of ``x`` (any number of dimensions).

    Parameters
    ----------
    x : TensorVariable
        Scores; for the attention layer, shape ``(batch, L)``.

    Returns
    -------
    TensorVariable
        Same shape as ``x``, non-negative, summing to 1 over the last axis.
    """
    if x.ndim == 2:
        return T.nnet.softmax(x)
    e = T.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def weighted_sum(alpha, H, fused=False):
    """Sum over the encoder positions of ``alpha * H``: the context.

    Parameters
    ----------
    alpha : TensorVariable
        Attention weights, (batch, L).
    H : TensorVariable
        Encoder states, (batch, L, E).
    fused : bool
        With the package's own op, :class:`~.fused_attention.BatchedMatVec`
        (``fused_attention``).

    Returns
    -------
    TensorVariable
        (batch, E).

    Notes
    -----
    Written as a batched matrix product, so that its gradient is BLAS work
    too, which trains faster than the broadcast product and sum.  Theano
    1.0.5's ``BatchedDot`` calls BLAS directly and cannot be built without
    a BLAS library; with ``blas.ldflags`` empty the broadcast form, which
    computes the same, is used.
    """
    if fused:
        return BatchedMatVec(True)(H, alpha)
    if theano.config.blas.ldflags:
        return T.batched_dot(alpha, H)
    return (alpha.dimshuffle(0, 1, 'x') * H).sum(axis=1)


def _is_initializer(spec):
    """True for a callable initializer, False for a fixed value."""
    return callable(spec) and not isinstance(
        spec, (np.ndarray, theano.Variable)
    )


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(
            '%s must be an integer >= %d, got %r' % (name, minimum, value)
        )
    return int(value)


class LSTMAttentionDecodeFeedbackLayer(MergeLayer):
    """LSTM decoder with additive (Bahdanau-style) attention over the encoder.

    With encoder states ``H`` (batch, L, E), mask ``M`` (batch, L), decoder
    hidden state ``h`` and cell ``c`` (both (batch, num_units)), each of the
    ``decode_pre_steps + n_decodesteps`` steps computes::

        hUa     = H . U_a                        (batch, L, A), once
        e_t     = nonlinearity_align(h_{t-1} . W_a + hUa) . v_a    (batch, L)
        e_t     = e_t * M - (1 - M) * 10000
        alpha_t = attention_softmax_function(e_t)                 (batch, L)
        ctx_t   = sum_L alpha_t * H                               (batch, E)
        gates   = h_{t-1} . W_hid_stacked + b_stacked
                  + ctx_t . W_weightedhid_stacked       (batch, 4 num_units)
        i_t     = ingate.nonlinearity(gates_i + c_{t-1} * W_cell_to_ingate)
        f_t     = forgetgate.nonlinearity(gates_f
                                          + c_{t-1} * W_cell_to_forgetgate)
        g_t     = cell.nonlinearity(gates_c)
        o_t     = outgate.nonlinearity(gates_o)
        c_t     = f_t * c_{t-1} + i_t * g_t
        o_t     = o_t + c_t * W_cell_to_outgate      (after the nonlinearity)
        h_t     = o_t * nonlinearity(c_t)

    The stacking order of the gates is ingate, forgetgate, cell, outgate.
    The peephole terms are present only with ``peepholes=True``.

    Parameters
    ----------
    incoming : Layer or tuple
        The encoder states ``H``, shape ``(batch, L, E)``.  ``E`` must be
        known (not ``None``).
    num_units : int
        Decoder units ``U``.
    aln_num_units : int
        Units ``A`` of the alignment (scoring) network.
    n_decodesteps : int
        Number of decoding steps whose outputs are returned.
    ingate, forgetgate, outgate : Gate
        Initializers of each gate's ``W_hid`` (also used for the gate's
        ``W_weightedhid`` when it is a callable initializer; a fixed array
        or shared variable is ``W_hid_to_<gate>``'s own, and
        ``W_weightedhid_to_<gate>`` then starts from Normal(0.1)), ``b``,
        ``W_cell`` (peephole) and its nonlinearity (default sigmoid).
        ``W_in`` is not used: the layer has no input sequence.
    cell : Gate
        As above for the cell input; its ``W_cell`` is not used (default
        ``Gate(W_cell=None, nonlinearity=tanh)``).
    nonlinearity : callable or None
        Applied to the cell in ``h_t = o_t * nonlinearity(c_t)`` (default
        tanh; ``None`` means identity).
    nonlinearity_align : callable or None
        Alignment nonlinearity (default tanh; ``None`` means identity).
    hid_init, cell_init : callable, ndarray, shared variable, TensorVariable
        or Layer
        Initial ``h_0`` and ``c_0``.  An initializer, array or shared
        variable becomes a parameter of shape ``(1, num_units)`` (named
        ``hid_init`` / ``cell_init``), repeated over the batch, trainable
        only with ``learn_init=True``.  A 2-D TensorVariable of shape
        ``(batch, num_units)`` is used as it is (no parameter; as in
        Lasagne 0.1's own recurrent layers).  A Layer with output
        ``(batch, num_units)`` becomes an extra input of this MergeLayer
        (after the mask input, ``hid_init`` before ``cell_init``).
    backwards : bool
        If True the outputs (and ``alpha``, ``hid_out``, ``cell_out``) are
        reversed along the decoding-step axis, as Lasagne's recurrent layers
        reverse theirs.  The recurrence itself is the same: the layer has no
        input sequence that it could read in reverse, so ``backwards=True``
        gives exactly the forward outputs in reverse order.
    learn_init : bool
        Whether the ``hid_init`` / ``cell_init`` parameters are trainable.
    peepholes : bool
        Whether to use the ``W_cell_to_*`` peephole vectors.
    gradient_steps : int
        Truncated backpropagation through time: passed to ``theano.scan``
        as ``truncate_gradient`` (-1: full backpropagation).  Must be -1
        with ``unroll_scan=True``.
    grad_clipping : float or False
        If not False, the gradient flowing into the gate pre-activations
        ``gates`` (and the peephole sums added to them) is clipped to
        ``[-grad_clipping, grad_clipping]`` (``theano.gradient.grad_clip``;
        the forward pass is unchanged), as in Lasagne's LSTMLayer.
    unroll_scan : bool
        Unroll the recurrence into a plain graph
        (``lasagne.utils.unroll_scan``) instead of ``theano.scan``.
    fused_attention : bool
        Compute the scores ``e_t``, the context ``ctx_t`` and their
        gradients with the fused ops of
        :mod:`~seq2seq_lasagne.layers.fused_attention` instead of Theano's
        elementwise ops and BLAS.  The same values up to float rounding,
        not to the bit; only with the default ``nonlinearity_align``
        (tanh).
    mask_input : Layer or None
        Encoder mask ``M`` (batch, L), 1 for real positions, 0 for padding.
        Without it every position is used (the same as an all-ones mask).
    attention_softmax_function : callable
        Maps the scores ``e_t`` (batch, L) to the weights ``alpha_t``
        (default :func:`softmax_last_axis`).
    decode_pre_steps : int
        Extra leading steps that are run but whose outputs are dropped.
    return_decodehid : bool
        Return the hidden states ``h_t`` instead of the contexts ``ctx_t``.
    **kwargs
        Passed to :class:`lasagne.layers.MergeLayer` (``name``).

    Attributes
    ----------
    W_hid_to_ingate, W_hid_to_forgetgate, W_hid_to_cell, W_hid_to_outgate
        Shared variables, (num_units, num_units).
    b_ingate, b_forgetgate, b_cell, b_outgate
        (num_units,).
    W_weightedhid_to_ingate, W_weightedhid_to_forgetgate,
    W_weightedhid_to_cell, W_weightedhid_to_outgate
        (E, num_units).
    W_cell_to_ingate, W_cell_to_forgetgate, W_cell_to_outgate
        (num_units,); only with ``peepholes=True``.
    W_a : (num_units, A)
        Parameter named ``'AlignSeqOutputLayer: (aln) W_a'``.
    U_a : (E, A)
        Parameter named ``'AlignSeqOutputLayer: (aln) U_a'``.
    v_a : (A, 1)
        Parameter named ``'AlignSeqOutputLayer: v_a'``.
    hid_init, cell_init
        (1, num_units) parameters, or the given TensorVariable / Layer.
    alpha : TensorVariable
        Set by :meth:`get_output_for`: the attention weights,
        ``(batch, n_decodesteps, L)``.
    ctx_out, hid_out, cell_out : TensorVariable
        Set by :meth:`get_output_for`: contexts ``(batch, n_decodesteps,
        E)``, hidden states and cells ``(batch, n_decodesteps,
        num_units)``.  These attributes hold the expressions of the latest
        ``get_output`` call.

    Notes
    -----
    The parameters are registered in this order: the four
    ``W_hid_to_<gate>, b_<gate>`` pairs, the four ``W_weightedhid_to_<gate>``,
    the three ``W_cell_to_<gate>``, ``W_a``, ``U_a``, ``v_a``, then
    ``hid_init`` and ``cell_init``.  Every weight defaults to Normal(0.1),
    every bias to 0.

    ``alpha_0`` and ``ctx_0`` are never used: ``ctx_t`` depends on
    ``h_{t-1}`` only, so neither is carried from step to step.

    Differences from the original
    -----------------------------
    * ``get_output_shape_for`` reports the width of what the layer returns:
      ``E`` (the encoder width) for the contexts, ``num_units`` with
      ``return_decodehid=True``.  The original always reported
      ``num_units``, which is wrong for the contexts when ``E !=
      num_units``.
    * With ``decode_pre_steps > 0`` the leading pre-steps are dropped from
      every output -- contexts, hidden states, cells and ``alpha`` -- each
      from its own sequence.  The original sliced the hidden states into
      the cell and ``alpha`` outputs.
    * A Layer may be given as ``hid_init`` / ``cell_init``.
    * A gate's ``W_hid`` given as a fixed array or shared variable is used
      for ``W_hid_to_<gate>`` only, not also for
      ``W_weightedhid_to_<gate>`` (a shared variable would have been the
      same variable twice, an array of shape (U, U) would not fit (E, U)).
    """

    def __init__(
        self,
        incoming,
        num_units,
        aln_num_units,
        n_decodesteps,
        ingate=Gate(),
        forgetgate=Gate(),
        cell=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
        outgate=Gate(),
        nonlinearity=nonlinearities.tanh,
        nonlinearity_align=nonlinearities.tanh,
        hid_init=init.Constant(0.0),
        cell_init=init.Constant(0.0),
        backwards=False,
        learn_init=False,
        peepholes=True,
        gradient_steps=-1,
        grad_clipping=False,
        unroll_scan=False,
        fused_attention=False,
        mask_input=None,
        attention_softmax_function=softmax_last_axis,
        decode_pre_steps=0,
        return_decodehid=False,
        **kwargs,
    ):
        incomings = [incoming]
        self._mask_index = None
        if mask_input is not None:
            self._mask_index = len(incomings)
            incomings.append(mask_input)
        self._hid_init_index = None
        if isinstance(hid_init, Layer):
            self._hid_init_index = len(incomings)
            incomings.append(hid_init)
        self._cell_init_index = None
        if isinstance(cell_init, Layer):
            self._cell_init_index = len(incomings)
            incomings.append(cell_init)
        super(LSTMAttentionDecodeFeedbackLayer, self).__init__(
            incomings, **kwargs
        )

        self.num_units = _positive_int(num_units, 'num_units')
        self.aln_num_units = _positive_int(aln_num_units, 'aln_num_units')
        self.n_decodesteps = _positive_int(n_decodesteps, 'n_decodesteps')
        self.decode_pre_steps = _positive_int(
            decode_pre_steps, 'decode_pre_steps', minimum=0
        )
        self.nonlinearity = (
            nonlinearities.identity if nonlinearity is None else nonlinearity
        )
        self.nonlinearity_align = (
            nonlinearities.identity
            if nonlinearity_align is None
            else nonlinearity_align
        )
        self.attention_softmax_function = attention_softmax_function
        self.backwards = bool(backwards)
        self.learn_init = learn_init
        self.peepholes = peepholes
        self.gradient_steps = gradient_steps
        self.grad_clipping = grad_clipping
        self.unroll_scan = unroll_scan
        self.return_decodehid = return_decodehid
        if unroll_scan and gradient_steps != -1:
            raise ValueError(
                'gradient_steps must be -1 when unroll_scan is True'
            )
        self.fused_attention = bool(fused_attention)
        if self.fused_attention and self.nonlinearity_align is not (
            nonlinearities.tanh
        ):
            raise ValueError(
                'fused_attention scores with tanh only, '
                'not nonlinearity_align=%r' % (nonlinearity_align,)
            )

        input_shape = self.input_shapes[0]
        if len(input_shape) != 3:
            raise ValueError(
                'the encoder input must be 3-D (batch, L, E), '
                'got shape %r' % (input_shape,)
            )
        num_enc = input_shape[2]
        if num_enc is None:
            raise ValueError(
                'the encoder width (input_shape[2]) must be known'
            )
        self.num_enc_units = num_enc
        U, A = self.num_units, self.aln_num_units

        gates = (
            ('ingate', ingate),
            ('forgetgate', forgetgate),
            ('cell', cell),
            ('outgate', outgate),
        )
        for gate_name, gate in gates:
            setattr(
                self,
                'W_hid_to_' + gate_name,
                self.add_param(
                    gate.W_hid, (U, U), name='W_hid_to_' + gate_name
                ),
            )
            setattr(
                self,
                'b_' + gate_name,
                self.add_param(
                    gate.b, (U,), name='b_' + gate_name, regularizable=False
                ),
            )
            setattr(self, 'nonlinearity_' + gate_name, gate.nonlinearity)
        for gate_name, gate in gates:
            # A fixed value (array, shared variable) given as W_hid is
            # W_hid_to_<gate>'s own; it cannot serve another matrix.
            spec = (
                gate.W_hid if _is_initializer(gate.W_hid) else init.Normal(0.1)
            )
            setattr(
                self,
                'W_weightedhid_to_' + gate_name,
                self.add_param(
                    spec, (num_enc, U), name='W_weightedhid_to_' + gate_name
                ),
            )
        if peepholes:
            for gate_name, gate in gates:
                if gate_name == 'cell':
                    continue
                if getattr(gate, 'W_cell', None) is None:
                    raise ValueError(
                        'peepholes=True needs a W_cell '
                        'initializer in the %s Gate' % gate_name
                    )
                setattr(
                    self,
                    'W_cell_to_' + gate_name,
                    self.add_param(
                        gate.W_cell, (U,), name='W_cell_to_' + gate_name
                    ),
                )

        self.W_a = self.add_param(
            init.Normal(0.1), (U, A), name='AlignSeqOutputLayer: (aln) W_a'
        )
        self.U_a = self.add_param(
            init.Normal(0.1),
            (num_enc, A),
            name='AlignSeqOutputLayer: (aln) U_a',
        )
        self.v_a = self.add_param(
            init.Normal(0.1), (A, 1), name='AlignSeqOutputLayer: v_a'
        )

        self.hid_init = self._init_state(hid_init, 'hid_init', learn_init)
        self.cell_init = self._init_state(cell_init, 'cell_init', learn_init)
        self.alpha = self.ctx_out = self.hid_out = self.cell_out = None

    def _init_state(self, spec, name, learn_init):
        if isinstance(spec, Layer):
            return spec
        if isinstance(spec, T.TensorVariable) and not isinstance(
            spec, theano.compile.SharedVariable
        ):
            if spec.ndim != 2:
                raise ValueError(
                    '%s given as a TensorVariable must be 2-D, '
                    '(batch, num_units)' % name
                )
            return spec
        return self.add_param(
            spec,
            (1, self.num_units),
            name=name,
            trainable=learn_init,
            regularizable=False,
        )

    def get_output_shape_for(self, input_shapes):
        """Output shape for the given input shapes.

        Parameters
        ----------
        input_shapes : list of tuple
            ``input_shapes[0]`` is the encoder shape ``(batch, L, E)``.

        Returns
        -------
        tuple
            ``(batch, n_decodesteps, E)``, or ``(batch, n_decodesteps,
            num_units)`` with ``return_decodehid=True``.
        """
        batch, _, num_enc = input_shapes[0]
        width = self.num_units if self.return_decodehid else num_enc
        return (batch, self.n_decodesteps, width)

    def get_output_for(self, inputs, **kwargs):
        """Decode, attending over the encoder states.

        Parameters
        ----------
        inputs : list of TensorVariable
            ``inputs[0]``: encoder states ``H`` (batch, L, E); then, in this
            order and only when given at construction, the mask (batch, L),
            the ``hid_init`` and ``cell_init`` layers' outputs (batch,
            num_units).

        Returns
        -------
        TensorVariable
            Contexts ``(batch, n_decodesteps, E)``, or hidden states
            ``(batch, n_decodesteps, num_units)`` with
            ``return_decodehid=True``.  Also sets :attr:`alpha` (batch,
            n_decodesteps, L), :attr:`ctx_out`, :attr:`hid_out` and
            :attr:`cell_out`.
        """
        H = inputs[0]
        num_batch = H.shape[0]
        U = self.num_units
        mask = None
        if self._mask_index is not None:
            mask = T.cast(inputs[self._mask_index], H.dtype)

        def initial(state, index):
            if index is not None:
                return inputs[index]
            if isinstance(state, theano.compile.SharedVariable):
                # (1, U) parameter -> (batch, U)
                return T.dot(T.ones((num_batch, 1), dtype=state.dtype), state)
            return state

        hid_init = initial(self.hid_init, self._hid_init_index)
        cell_init = initial(self.cell_init, self._cell_init_index)

        names = ('ingate', 'forgetgate', 'cell', 'outgate')
        W_hid_stacked = T.concatenate(
            [getattr(self, 'W_hid_to_' + n) for n in names], axis=1
        )
        W_ctx_stacked = T.concatenate(
            [getattr(self, 'W_weightedhid_to_' + n) for n in names], axis=1
        )
        b_stacked = T.concatenate(
            [getattr(self, 'b_' + n) for n in names], axis=0
        )
        v_a = self.v_a[:, 0]
        # Step-independent terms, computed once.
        hUa = T.dot(H, self.U_a)  # (batch, L, A)
        if self.fused_attention:
            # The fused ops read C-contiguous arrays; the encoder's states
            # are a transposed view of its scan's output, so they are
            # copied once here rather than at every step.
            H = cpu_contiguous(H)
            hUa = cpu_contiguous(hUa)
        non_seqs = [
            H,
            hUa,
            W_hid_stacked,
            W_ctx_stacked,
            b_stacked,
            self.W_a,
            v_a,
        ]
        if mask is not None:
            non_seqs += [mask, (1.0 - mask) * MASK_PENALTY]
        if self.peepholes:
            non_seqs += [
                self.W_cell_to_ingate,
                self.W_cell_to_forgetgate,
                self.W_cell_to_outgate,
            ]

        def step(
            hid_prev,
            cell_prev,
            H,
            hUa,
            W_hid_stacked,
            W_ctx_stacked,
            b_stacked,
            W_a,
            v_a,
            *rest,
        ):
            rest = list(rest)
            if mask is not None:
                mask_, penalty = rest.pop(0), rest.pop(0)
            # Alignment: scores of every encoder position, (batch, L).
            if self.fused_attention:
                e = alignment_scores(T.dot(hid_prev, W_a), hUa, v_a)
            else:
                aligned = T.dot(hid_prev, W_a).dimshuffle(0, 'x', 1) + hUa
                e = T.dot(self.nonlinearity_align(aligned), v_a)
            if mask is not None:
                e = e * mask_ - penalty
            alpha = self.attention_softmax_function(e)
            ctx = weighted_sum(alpha, H, self.fused_attention)  # (batch, E)

            gates = (
                T.dot(hid_prev, W_hid_stacked)
                + b_stacked
                + T.dot(ctx, W_ctx_stacked)
            )
            if self.grad_clipping is not False:
                gates = theano.gradient.grad_clip(
                    gates, -self.grad_clipping, self.grad_clipping
                )
            ingate = gates[:, 0:U]
            forgetgate = gates[:, U : 2 * U]
            cell_input = gates[:, 2 * U : 3 * U]
            outgate = gates[:, 3 * U : 4 * U]
            if self.peepholes:
                W_ci, W_cf, W_co = rest
                ingate = ingate + cell_prev * W_ci
                forgetgate = forgetgate + cell_prev * W_cf
            ingate = self.nonlinearity_ingate(ingate)
            forgetgate = self.nonlinearity_forgetgate(forgetgate)
            cell_input = self.nonlinearity_cell(cell_input)
            outgate = self.nonlinearity_outgate(outgate)
            cell = forgetgate * cell_prev + ingate * cell_input
            if self.peepholes:
                # The original's quirk: added after the nonlinearity.
                outgate = outgate + cell * W_co
            hid = outgate * self.nonlinearity(cell)
            return [hid, cell, alpha, ctx]

        n_steps = self.n_decodesteps + self.decode_pre_steps
        if self.unroll_scan:
            # unroll_scan feeds every output back, so alpha and ctx get
            # (unused) initial values.
            zeros_alpha = T.zeros((num_batch, H.shape[1]), dtype=H.dtype)
            zeros_ctx = T.zeros((num_batch, H.shape[2]), dtype=H.dtype)

            def unrolled_step(
                hid_prev, cell_prev, alpha_prev, ctx_prev, *args
            ):
                return step(hid_prev, cell_prev, *args)

            with warnings.catch_warnings():
                # Lasagne 0.1 calls the deprecated T.stack(*tensors).
                warnings.simplefilter('ignore', DeprecationWarning)
                hid_out, cell_out, alpha_out, ctx_out = (
                    lasagne.utils.unroll_scan(
                        fn=unrolled_step,
                        sequences=[],
                        outputs_info=[
                            hid_init,
                            cell_init,
                            zeros_alpha,
                            zeros_ctx,
                        ],
                        non_sequences=non_seqs,
                        n_steps=n_steps,
                    )
                )
        else:
            (hid_out, cell_out, alpha_out, ctx_out), _ = theano.scan(
                fn=step,
                outputs_info=[hid_init, cell_init, None, None],
                non_sequences=non_seqs,
                n_steps=n_steps,
                truncate_gradient=self.gradient_steps,
                strict=True,
            )

        # (steps, batch, ...) -> (batch, n_decodesteps, ...), pre-steps
        # dropped from every output.
        def finish(seq):
            seq = seq[self.decode_pre_steps :].dimshuffle(1, 0, 2)
            return seq[:, ::-1] if self.backwards else seq

        self.hid_out = finish(hid_out)
        self.cell_out = finish(cell_out)
        self.alpha = finish(alpha_out)
        self.ctx_out = finish(ctx_out)
        return self.hid_out if self.return_decodehid else self.ctx_out
