"""Exercise 4 (both parts): masked cost and accuracy, for targets of
different lengths.

Autograded: the visible tests compare with a NumPy computation on a fixed
batch; the hidden tests check that padding never counts and compare with
``seq2seq_lasagne.objectives`` on a batch of ``get_batch`` targets.
"""
# ruff: noqa: E402, F821

# %% [markdown] readonly id=ex4_task
# ### Exercise 4 (5 points): targets of different lengths
#
# With `MIN_DIGITS < MAX_DIGITS`, `get_batch` pads the targets with zeros
# to `MAX_DIGITS + 1` positions and returns `target_masks`: 1 on the digits
# and the `#`, 0 on the padding (whose code 0 is also the code of the digit
# 0). The lab's cost and accuracy count the padding as targets. Complete
# the two functions below so that only the real target positions count.
# Both return Theano expressions (scalars) of
#
# - `output`: the network's softmax output, (batch, steps, 11),
# - `targets`: the target codes, (batch, steps), integers,
# - `target_mask`: (batch, steps), 1 where a target counts, 0 on padding;
#
# `masked_cost` the mean categorical cross-entropy over the real positions,
# `masked_accuracy` the fraction of real positions whose most probable
# symbol (the argmax) is the target.
#
# To train with them, give the mask to the Theano functions as a fourth
# input (`ymask_sym = T.matrix()`) and pass `target_masks` in the training
# loop.


# %% solution id=ex4_code
def masked_cost(output, targets, target_mask):
    """Mean cross-entropy over the positions where target_mask is 1."""
    ### BEGIN SOLUTION
    probs = T.reshape(output, (-1, output.shape[-1]))
    cost = T.nnet.categorical_crossentropy(probs, targets.flatten())
    mask = target_mask.flatten()
    return T.sum(cost * mask) / T.sum(mask)
    ### END SOLUTION


def masked_accuracy(output, targets, target_mask):
    """Fraction of the positions where target_mask is 1 that are right."""
    ### BEGIN SOLUTION
    correct = T.eq(T.argmax(output, axis=-1), targets)
    return T.sum(correct * target_mask) / T.sum(target_mask)
    ### END SOLUTION


# %% readonly id=ex4_helpers
# Helpers of the exercise 4 tests (read-only).
def ex4_batch(seed, batch=3, steps=5, lengths=(5, 3, 1)):
    """Softmax outputs, targets and a mask with rows of ``lengths``."""
    rng = np.random.RandomState(seed)
    logits = rng.normal(0, 2, size=(batch, steps, 11))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    targets = rng.randint(0, 11, size=(batch, steps)).astype('int32')
    mask = (np.arange(steps) < np.array(lengths)[:, None]).astype('float32')
    return probs.astype('float32'), targets, mask


def ex4_function(expression, gradient=False):
    """Compile ``expression(output, targets, target_mask)``."""
    output = T.tensor3('output', dtype='float32')
    targets = T.imatrix('targets')
    mask = T.matrix('target_mask', dtype='float32')
    with quietly():
        value = expression(output, targets, mask)
        outputs = [value, T.grad(value, output)] if gradient else value
        return theano.function([output, targets, mask], outputs)


def numpy_picked(probs, targets):
    """The probability given to each target."""
    batch, steps = targets.shape
    return probs[np.arange(batch)[:, None], np.arange(steps), targets]


# %% tests id=ex4_cost points=3
# Tests: masked_cost on a fixed batch (3 points).
def test_ex4_cost():
    probs, targets, mask = ex4_batch(4)
    f = ex4_function(masked_cost, gradient=True)
    value, grad = f(probs, targets, mask)
    assert np.ndim(value) == 0, 'the cost is one number'
    expected = -(np.log(numpy_picked(probs, targets)) * mask).sum() / (
        mask.sum()
    )
    assert np.isclose(value, expected, rtol=1e-5), (float(value), expected)
    ### BEGIN HIDDEN TESTS
    # Nothing at a padded position changes the cost, or gets a gradient.
    other, other_targets, _ = ex4_batch(5)
    pad = mask == 0
    probs2, targets2 = probs.copy(), targets.copy()
    probs2[pad], targets2[pad] = other[pad], other_targets[pad]
    assert np.isclose(f(probs2, targets2, mask)[0], value, rtol=1e-6)
    assert np.all(grad[pad] == 0)
    # Without padding it is the lab's cost.
    full = np.ones_like(mask)
    lab = -np.log(numpy_picked(probs, targets)).mean()
    assert np.isclose(f(probs, targets, full)[0], lab, rtol=1e-5)
    # The package's cost, on targets of 1 to 20 digits.
    from seq2seq_lasagne.objectives import sequence_cost

    _, _, y, ymask = get_batch(7, 1, 20, rng=np.random.RandomState(6))[:4]
    probs3 = ex4_batch(7, batch=7, steps=21, lengths=[21] * 7)[0]
    reference = ex4_function(sequence_cost)(probs3, y, ymask)
    assert np.isclose(f(probs3, y, ymask)[0], reference, rtol=1e-5)
    ### END HIDDEN TESTS


with quietly():
    test_ex4_cost()


# %% tests id=ex4_accuracy points=2
# Tests: masked_accuracy on a fixed batch (2 points).
def test_ex4_accuracy():
    probs, targets, mask = ex4_batch(8)
    # Make some of the real positions right.
    targets[:, ::2] = probs.argmax(-1)[:, ::2]
    f = ex4_function(masked_accuracy)
    value = f(probs, targets, mask)
    assert np.ndim(value) == 0, 'the accuracy is one number'
    correct = probs.argmax(-1) == targets
    expected = (correct * mask).sum() / mask.sum()
    assert np.isclose(value, expected, rtol=1e-6), (float(value), expected)
    ### BEGIN HIDDEN TESTS
    # Padded positions never count, right or wrong.
    pad = mask == 0
    targets2 = targets.copy()
    targets2[pad] = probs.argmax(-1)[pad]
    assert np.isclose(f(probs, targets2, mask), value, rtol=1e-6)
    targets2[pad] = (probs.argmax(-1)[pad] + 1) % 11
    assert np.isclose(f(probs, targets2, mask), value, rtol=1e-6)
    # Without padding it is the lab's accuracy.
    full = np.ones_like(mask)
    assert np.isclose(f(probs, targets, full), correct.mean(), rtol=1e-6)
    # The package's accuracy, on targets of 1 to 20 digits.
    from seq2seq_lasagne.objectives import sequence_accuracy

    _, _, y, ymask = get_batch(7, 1, 20, rng=np.random.RandomState(9))[:4]
    probs3 = ex4_batch(10, batch=7, steps=21, lengths=[21] * 7)[0]
    y[:, 1::3] = probs3.argmax(-1)[:, 1::3]
    reference = ex4_function(sequence_accuracy)(probs3, y, ymask)
    assert np.isclose(f(probs3, y, ymask), reference, rtol=1e-6)
    ### END HIDDEN TESTS


with quietly():
    test_ex4_accuracy()
