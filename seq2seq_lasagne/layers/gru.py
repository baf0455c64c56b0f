"""Lasagne's GRU with its recurrence as one fused op."""

import lasagne
import theano.tensor as T

from .fused_gru import gru_recurrence

__all__ = ['FusedGRULayer']


class FusedGRULayer(lasagne.layers.GRULayer):
    """``lasagne.layers.GRULayer``, its recurrence one op instead of a scan.

    The same parameters under the same names and shapes, the same
    equations; the steps run in :class:`~.fused_gru.GRURecurrence`, their
    gradient in :class:`~.fused_gru.GRURecurrenceGrad`, each one C call
    for the whole sequence.  The values are ``GRULayer``'s up to float
    rounding.

    The op computes the GRU of Lasagne's defaults only, so the options
    that would change it are refused with a ``ValueError`` naming them:
    other nonlinearities than sigmoid gates and a tanh hidden update,
    ``grad_clipping``, ``gradient_steps``, ``unroll_scan`` and
    ``precompute_input=False``.

    Parameters
    ----------
    incoming, num_units, **kwargs
        As ``lasagne.layers.GRULayer``.

    Notes
    -----
    Input (batch, T, features), mask (batch, T); output (batch, T,
    num_units).
    """

    def __init__(self, incoming, num_units, **kwargs):
        super().__init__(incoming, num_units, **kwargs)
        nl = lasagne.nonlinearities
        refused = [
            name
            for name, ok in (
                (
                    'nonlinearity of the reset gate',
                    self.nonlinearity_resetgate is nl.sigmoid,
                ),
                (
                    'nonlinearity of the update gate',
                    self.nonlinearity_updategate is nl.sigmoid,
                ),
                (
                    'nonlinearity of the hidden update',
                    self.nonlinearity_hid is nl.tanh,
                ),
                ('grad_clipping', self.grad_clipping is False),
                ('gradient_steps', self.gradient_steps == -1),
                ('unroll_scan', not self.unroll_scan),
                ('precompute_input', self.precompute_input),
            )
            if not ok
        ]
        if refused:
            raise ValueError(
                'FusedGRULayer computes the GRU of Lasagne defaults only; '
                'not supported: %s' % ', '.join(refused)
            )

    def get_output_for(self, inputs, **kwargs):
        """The states, (batch, T, num_units).

        Parameters
        ----------
        inputs : list of TensorVariable
            The input (batch, T, features...) and, with ``mask_input``, the
            mask (batch, T).
        """
        x = inputs[0]
        mask = inputs[1] if len(inputs) > 1 else None
        if x.ndim > 3:
            x = T.flatten(x, 3)
        gates = ('resetgate', 'updategate', 'hidden_update')
        w_in = T.concatenate(
            [getattr(self, 'W_in_to_' + g) for g in gates], axis=1
        )
        w_hid = T.concatenate(
            [getattr(self, 'W_hid_to_' + g) for g in gates], axis=1
        )
        b = T.concatenate([getattr(self, 'b_' + g) for g in gates], axis=0)
        projected = T.dot(x, w_in) + b
        if isinstance(self.hid_init, T.TensorVariable):
            h0 = self.hid_init
        else:
            # One row per sequence, as GRULayer makes it.
            h0 = T.dot(T.ones((x.shape[0], 1)), self.hid_init)
        if mask is not None:
            mask = T.cast(mask, projected.dtype)
        return gru_recurrence(projected, h0, w_hid, mask, self.backwards)
