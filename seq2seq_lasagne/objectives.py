"""Symbolic cost and accuracy of a sequence output, optionally masked.

Without a target mask these are the notebook's expressions: cross-entropy
and accuracy averaged over every target position.  With one (exercise 4,
targets of different lengths) padded positions do not count at all.
"""

import theano.tensor as T

__all__ = ['sequence_cost', 'sequence_accuracy']


def sequence_cost(output, targets, target_mask=None):
    """Mean categorical cross-entropy over the (unmasked) target positions.

    Parameters
    ----------
    output : TensorVariable, (batch, steps, classes)
        Softmax distributions.
    targets : TensorVariable, int, (batch, steps)
    target_mask : TensorVariable, (batch, steps), optional
        1 where a target counts, 0 on padding.

    Returns
    -------
    TensorVariable, scalar
    """
    probs = T.reshape(output, (-1, output.shape[-1]))
    flat = targets.flatten()
    # The notebook's T.nnet.categorical_crossentropy(probs, flat), written
    # out: Theano 1.0.5's op for it loops over the 2100 rows in Python,
    # forward and gradient (benchmarks/, lever notebook_crossentropy).  The
    # gradient is the same to the bit, the cost to float32 rounding (tests/
    # test_exercises.py), so training follows the same path.
    cost = -T.log(probs[T.arange(flat.shape[0]), flat])
    if target_mask is None:
        return T.mean(cost)
    mask = target_mask.flatten()
    return T.sum(cost * mask) / T.sum(mask)


def sequence_accuracy(output, targets, target_mask=None):
    """Fraction of (unmasked) positions whose argmax equals the target.

    Shapes as in :func:`sequence_cost`; returns a scalar.
    """
    correct = T.eq(T.argmax(output, axis=-1), targets)
    if target_mask is None:
        return T.mean(correct)
    return T.sum(correct * target_mask) / T.sum(target_mask)
