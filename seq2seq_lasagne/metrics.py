"""What a validation pass measures, in NumPy: accuracies and attention.

These read the arrays a compiled test function returns; the symbolic cost
and accuracy that training optimises are in :mod:`seq2seq_lasagne.objectives`.
"""

import numpy as np

__all__ = [
    'accuracy_per_position',
    'attention_diagonal',
    'sequence_metrics',
]


def accuracy_per_position(output, targets, target_mask=None):
    """Validation accuracy at each target position.

    Parameters
    ----------
    output : ndarray, (batch, steps, classes)
    targets : ndarray, int, (batch, steps)
    target_mask : ndarray, (batch, steps), optional
        Padded positions are left out (a position nobody reaches is NaN).

    Returns
    -------
    ndarray, float, (steps,)
    """
    correct = (np.argmax(output, axis=-1) == targets).astype('float64')
    if target_mask is None:
        return correct.mean(axis=0)
    counted = target_mask.sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
        return (correct * target_mask).sum(axis=0) / counted


def attention_diagonal(alpha):
    """How well the mean attention follows the original's diagonal band.

    Parameters
    ----------
    alpha : ndarray, (batch, n_decodesteps, input length)

    Returns
    -------
    dict
        ``peaks``: the input position of the largest mean weight for each
        target; ``slope`` and ``intercept`` of a least-squares line through
        the digit targets' peaks (the original: about 5 input characters
        per digit); ``monotonic``: fraction of consecutive digit targets
        whose peak moves right.
    """
    mean = np.mean(alpha, axis=0)
    peaks = np.argmax(mean, axis=1)
    digits = peaks[:-1]  # the last target is '#'
    k = np.arange(len(digits))
    slope, intercept = np.polyfit(k, digits, 1)
    return {
        'peaks': [int(p) for p in peaks],
        'slope': float(slope),
        'intercept': float(intercept),
        'monotonic': float(np.mean(np.diff(digits) > 0)),
    }


def sequence_metrics(output, targets, target_mask):
    """Accuracies of a batch of decoded sequences, masked and unmasked.

    Parameters
    ----------
    output : ndarray, (batch, steps, classes)
    targets : ndarray, int, (batch, steps)
    target_mask : ndarray, (batch, steps)
        1 on real target symbols (digits and '#'), 0 on padding.

    Returns
    -------
    dict
        ``unmasked``: accuracy over every position (what the notebook's
        ``acc`` computes); ``masked``: over real positions only;
        ``padding``: over padded positions only (NaN without padding);
        ``padding_share``: fraction of positions that are padding;
        ``sequence``: fraction of samples whose every real position is
        right.
    """
    mask = np.asarray(target_mask, dtype=bool)
    correct = np.argmax(output, axis=-1) == np.asarray(targets)
    padding = correct[~mask].mean() if (~mask).any() else float('nan')
    return {
        'unmasked': float(correct.mean()),
        'masked': float(correct[mask].mean()),
        'padding': float(padding),
        'padding_share': float(1 - mask.mean()),
        'sequence': float(np.mean(np.all(correct | ~mask, axis=1))),
    }
