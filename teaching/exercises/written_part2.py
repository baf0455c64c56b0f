"""Exercises 1 and 2 of part 2 (the attention decoder): written answers.

Graded by hand; the rubric is in ``teaching/INSTRUCTOR.md``.
"""
# ruff: noqa: E402, F821

# %% [markdown] readonly id=ex1_task
# ### Exercise 1 (3 points)
#
# What is the final validation performance of the attention model, and how
# does it compare with the encoder-decoder of part 1? Comment on the
# accuracy for each position of the output symbols and on the plot of the
# attention weights.

# %% [markdown] answer id=ex1_answer points=3
# Much better than the encoder-decoder of part 1, with half its training
# samples (when the run has left the plateau; runs differ a lot between
# seeds). There is no bottleneck any more: at every step the decoder forms
# a new context vector, a weighted sum of all the encoder states, and the
# weights learn to pick the word being translated.
#
# The mean attention weights form a diagonal band: target *k* attends
# around input character 5*k* (a digit's word and its space are about 5
# characters). The accuracy is highest for the first digits and falls
# towards the end: the decoder gets neither its position nor its last
# output, and where the *k*-th word starts varies more the larger *k* is,
# so the attention is blurred most for the late digits. The `#` needs the
# decoder to count to 21 on its own.

# %% [markdown] readonly id=ex2_task
# ### Exercise 2 (2 points)
#
# The validation curve of the attention model is a saw-tooth: long flat
# stretches, sudden rises and sudden drops. Why?

# %% [markdown] answer id=ex2_answer points=2
# A sudden rise is the alignment locking in for one more part of the
# sequence: every later position depends on the attention being in the
# right place, so many outputs flip from wrong to right together. A drop is
# an Adam step at the constant learning rate 0.005 that overshoots, so the
# attention loses its place for a while; gradient clipping limits such
# steps but does not prevent them. The flat stretches are plateaus of the
# error surface (the model first learns what the encoder-decoder learns,
# the last digit and the `#`). The validation set's own sampling error is
# far smaller than these jumps.
