"""The lab's toy translation data: spelled digits to digits.

``get_batch`` draws samples such as ``"one two five" -> "125#"`` and
encodes them with the lab's fixed 27-character table.  The table is a
literal here: the original derived the letters from a ``set()``, whose order
Python 3 randomises per process, and the lab's outputs and weights used the
order below.
"""

import numbers

import numpy as np

__all__ = [
    'valid_characters',
    'char_to_code',
    'STOP_CHARACTER',
    'DIGIT_WORDS',
    'print_valid_characters',
    'get_batch',
    'spell_digits',
    'parse_spelled',
    'encode_text',
    'encode_batch',
    'decode_prediction',
    'NUM_INPUTS',
    'NUM_OUTPUTS',
]

#: The character table of the original lab, in code order.
valid_characters = (
    '0',
    '1',
    '2',
    '3',
    '4',
    '5',
    '6',
    '7',
    '8',
    '9',
    '#',
    ' ',
    'e',
    'g',
    'f',
    'i',
    'h',
    'o',
    'n',
    's',
    'r',
    'u',
    't',
    'w',
    'v',
    'x',
    'z',
)
char_to_code = {c: i for i, c in enumerate(valid_characters)}
STOP_CHARACTER = '#'
DIGIT_WORDS = (
    'zero',
    'one',
    'two',
    'three',
    'four',
    'five',
    'six',
    'seven',
    'eight',
    'nine',
)
#: Number of input codes (every character) and of output codes (0-9, '#').
NUM_INPUTS = len(valid_characters)
NUM_OUTPUTS = 11


def print_valid_characters():
    """Print the character table exactly as the original lab did."""
    print('Number of valid characters:', len(valid_characters))
    print(
        ''.join("'%s'=%d,\t" % (c, i) for i, c in enumerate(valid_characters))
    )


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError('%s must be an integer, got %r' % (name, value))
    if value < minimum:
        raise ValueError(
            '%s must be at least %d, got %d' % (name, minimum, value)
        )
    return int(value)


def _randint(rng, low, high, size=None):
    """Uniform integers in [low, high) from a RandomState or a Generator."""
    if hasattr(rng, 'integers'):
        return rng.integers(low, high, size=size)
    return rng.randint(low, high, size=size)


def spell_digits(digits):
    """Spell a digit string: ``'125'`` -> ``'one two five'``."""
    return ' '.join(DIGIT_WORDS[int(d)] for d in digits)


def parse_spelled(text):
    """Check and normalise a spelled-digit input such as ``'One  two'``.

    Returns
    -------
    spelled : str
        Lower case words joined by single spaces (``'one two'``).
    digits : str
        The digits they spell (``'12'``).

    Raises
    ------
    ValueError
        If ``text`` is empty or holds a word that is not a digit's name.
    """
    words = str(text).lower().split()
    if not words:
        raise ValueError(
            'input is empty: give spelled digits such as "one two five"'
        )
    unknown = [w for w in words if w not in DIGIT_WORDS]
    if unknown:
        raise ValueError(
            'unknown word%s %s: only %s are understood'
            % (
                's' if len(unknown) > 1 else '',
                ', '.join(repr(w) for w in unknown),
                ', '.join(DIGIT_WORDS),
            )
        )
    return ' '.join(words), ''.join(str(DIGIT_WORDS.index(w)) for w in words)


def encode_batch(texts):
    """Encode input texts as ``get_batch`` does: codes and mask.

    Returns
    -------
    inputs : ndarray, int32, (len(texts), longest text)
    input_masks : ndarray, float32, same shape
    """
    width = max(len(t) for t in texts)
    inputs = np.zeros((len(texts), width), dtype='int32')
    masks = np.zeros((len(texts), width), dtype='float32')
    for i, text in enumerate(texts):
        inputs[i, : len(text)] = encode_text(text)
        masks[i, : len(text)] = 1
    return inputs, masks


def encode_text(text):
    """Character codes of ``text`` as an int32 vector.

    Raises
    ------
    ValueError
        If ``text`` is empty or holds a character outside the table.
    """
    if not text:
        raise ValueError('text is empty')
    unknown = sorted(set(c for c in text if c not in char_to_code))
    if unknown:
        raise ValueError(
            'text has characters outside the table: %s'
            % ' '.join(repr(c) for c in unknown)
        )
    return np.array([char_to_code[c] for c in text], dtype='int32')


def decode_prediction(codes):
    """Turn output codes into text, stopping after the first ``'#'``.

    Parameters
    ----------
    codes : sequence of int
        Output codes (0-9 for digits, 10 for ``'#'``), e.g. the argmax of
        the model's output for one sample.

    Returns
    -------
    str
        The digits up to and including the first ``'#'``; all of them if
        no ``'#'`` was predicted.
    """
    out = []
    for code in codes:
        char = valid_characters[int(code)]
        out.append(char)
        if char == STOP_CHARACTER:
            break
    return ''.join(out)


def get_batch(batch_size=100, min_digits=3, max_digits=3, rng=None):
    """Draw a batch of spelled-digit translation samples.

    Parameters
    ----------
    batch_size : int
        Number of samples, >= 1.
    min_digits, max_digits : int
        Each sample has a length drawn uniformly in
        ``[min_digits, max_digits]``, 1 <= min_digits <= max_digits.
    rng : numpy.random.RandomState or numpy.random.Generator, optional
        Source of randomness; NumPy's global generator when omitted (as in
        the original, so ``np.random.seed`` makes batches repeatable).

    Returns
    -------
    inputs : ndarray, int32, (batch_size, longest input text)
        Character codes of the spelled input, zero-padded on the right.
    input_masks : ndarray, float32, same shape as ``inputs``
        1 on characters, 0 on padding (the pad 0 is also the code of '0').
    targets : ndarray, int32, (batch_size, max_digits + 1)
        Codes of the digits followed by '#', zero-padded.
    target_masks : ndarray, float32, same shape as ``targets``
    text_inputs : list of str
        e.g. ``'one two five'``.
    text_targets : list of str
        e.g. ``'125#'``.
    """
    batch_size = _check_int('batch_size', batch_size, 1)
    min_digits = _check_int('min_digits', min_digits, 1)
    max_digits = _check_int('max_digits', max_digits, 1)
    if min_digits > max_digits:
        raise ValueError(
            'min_digits (%d) must not exceed max_digits (%d)'
            % (min_digits, max_digits)
        )
    rng = np.random if rng is None else rng

    text_inputs, text_targets = [], []
    for _ in range(batch_size):
        length = int(_randint(rng, min_digits, max_digits + 1))
        digits = ''.join(str(d) for d in _randint(rng, 0, 10, size=length))
        text_inputs.append(spell_digits(digits))
        text_targets.append(digits + STOP_CHARACTER)

    inputs, input_masks = encode_batch(text_inputs)
    targets = np.zeros((batch_size, max_digits + 1), dtype='int32')
    target_masks = np.zeros((batch_size, max_digits + 1), dtype='float32')
    for i, text_out in enumerate(text_targets):
        targets[i, : len(text_out)] = encode_text(text_out)
        target_masks[i, : len(text_out)] = 1
    return (
        inputs,
        input_masks,
        targets,
        target_masks,
        text_inputs,
        text_targets,
    )
