"""Exercises 1 and 2 of part 1 (the encoder-decoder): written answers.

Graded by hand; the rubric is in ``teaching/INSTRUCTOR.md``.  The answer
cells hold the model answer, which the release replaces by "YOUR ANSWER
HERE".
"""
# ruff: noqa: E402, F821

# %% [markdown] readonly id=ex1_task
# ### Exercise 1 (3 points)
#
# What is the final validation performance? Why do you think it is not
# better? Comment on the accuracy for each position of the output symbols
# (the plot above).

# %% [markdown] answer id=ex1_answer points=3
# The final validation accuracy is low, not far above chance (0.1 for a
# digit), and one of the 21 positions, the `#` at position 20, is free: it
# is always there.
#
# It is not better because of the bottleneck: the decoder sees the input
# only through the encoder's last state, 10 numbers that must hold 20
# digits after the GRU has read about 110 characters. The GRU overwrites
# its state as it reads, so the early digits fade, and the gradient that
# would teach it to keep them vanishes over about 100 steps. The decoder
# gets the same vector at every step (`RepeatLayer`) and must count the
# steps itself.
#
# Per position: `#` (20) is right almost always; the last digit (19) is by
# far the best digit, since it was read last and is still in the last
# state; position 18 a little; positions 0-17 are near chance, rising
# slowly towards the end: the last state keeps a blurred summary of which
# digits occurred, not where.

# %% [markdown] readonly id=ex2_task
# ### Exercise 2 (2 points)
#
# Why do you think the validation performance looks more "jig-saw" like
# compared to FFN and CNN models?

# %% [markdown] answer id=ex2_answer points=2
# The jumps come from the training, not from the measurement: one
# validation uses 5000 fixed samples × 21 positions, whose sampling error is
# much smaller than the jumps.
#
# - Every Adam step uses one new random batch of 100 samples at a constant
#   learning rate (0.005, no decay), so the parameters keep moving; each
#   validation is a snapshot of that walk, 50 steps after the last.
# - The accuracy counts argmax decisions: where the network is unsure, a
#   small change of the weights flips the prediction for many samples at
#   once.
# - A recurrent network applies the same weights at every step, so small
#   changes compound over the sequence; its error surface has plateaus and
#   cliffs (exploding and vanishing gradients), which is why the lab clips
#   the gradients.
# - Feed-forward and convolutional models are usually plotted per epoch of
#   a fixed training set with a decaying learning rate; here a point comes
#   every 50 updates on a stream of new data.
