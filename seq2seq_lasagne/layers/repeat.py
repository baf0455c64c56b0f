"""``RepeatLayer``: feed one vector to every step of a recurrent decoder."""

import lasagne
import theano.tensor as T

__all__ = ['RepeatLayer']


class RepeatLayer(lasagne.layers.Layer):
    """Repeat the input ``n`` times along a new axis 1.

    The baseline decoder gets the encoder's last state as its input at every
    decoding step; this layer makes that sequence.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch_size, num_features...)``.
    n : int
        Number of repetitions (decoding steps), >= 1.

    Notes
    -----
    Output shape: ``(batch_size, n, num_features...)``, with
    ``output[:, k] == input`` for every ``k``.
    """

    def __init__(self, incoming, n, **kwargs):
        super(RepeatLayer, self).__init__(incoming, **kwargs)
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError('n must be a positive integer, got %r' % (n,))
        self.n = int(n)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.n) + tuple(input_shape[1:])

    def get_output_for(self, input, **kwargs):
        return T.repeat(T.shape_padaxis(input, 1), self.n, axis=1)
