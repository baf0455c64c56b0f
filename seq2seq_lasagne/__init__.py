"""seq2seq-lasagne: the classic Theano/Lasagne RNN encoder-decoder lab.

Importing this package applies :mod:`seq2seq_lasagne.compat` first, so that
a plain ``import theano, lasagne`` works afterwards on Python 3.11.
"""

from . import compat

compat.apply()

__version__ = '0.1.0'
