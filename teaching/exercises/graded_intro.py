"""The opening of the graded part of both assignments.

Cells of a graded notebook, in the format of ``teaching/build_course.py``:
every ``# %%`` line starts a cell (see that script for the attributes);
the lines of a markdown cell are comments.
"""
# ruff: noqa: E402, F401, F821

# %% [markdown] readonly id=graded_intro
# ## Graded exercises
#
# *What follows is the graded part of this assignment: it was added to the
# lab's notebook for the course.*
#
# **Exercises 1 and 2**: write your answer in the cell under each question
# (double-click it); your instructor grades them.
#
# **Exercises 3 and 4**: complete the functions in the cells that say
# `YOUR CODE HERE` (replace the `raise NotImplementedError()`), then run
# the test cells after them: a test that passes prints nothing, a test
# that fails says why. More tests run when your notebook is graded, so make
# your code do what the exercise asks, not only what the visible tests
# check. The test cells need the cell below and your functions, not a
# trained network; they take seconds.
#
# Do not change the read-only cells and the test cells. Before you submit,
# run everything from the top (*Kernel → Restart Kernel and Run All
# Cells*). For grading the notebook is run from top to bottom with a short
# training run (the lab's quick mode): your grade does not depend on how
# long you trained.

# %% readonly id=graded_setup
# What the graded exercises and their tests use (read-only).
import contextlib
import inspect
import io
import logging
import warnings

import lasagne
import numpy as np
import theano
import theano.tensor as T

from seq2seq_lasagne.data_generator import get_batch


@contextlib.contextmanager
def quietly():
    """Nothing on stderr, where any text fails a test cell: no warnings,
    no log lines (Theano logs "Waiting for existing lock" there)."""
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with contextlib.redirect_stderr(io.StringIO()):
                yield
    finally:
        logging.disable(disabled)
