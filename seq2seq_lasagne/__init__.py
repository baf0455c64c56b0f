"""seq2seq-lasagne: the classic Theano/Lasagne RNN encoder-decoder lab.

Importing this package applies :mod:`seq2seq_lasagne.compat` first, so that
a plain ``import theano, lasagne`` works afterwards on Python 3.10-3.13.
"""

import os
import sys

from . import compat


def _launched_as_command():
    """Whether this process is the ``seq2seq-lasagne`` command (its console
    script, or ``python -m seq2seq_lasagne``)."""
    if os.path.basename(sys.argv[0]) == 'seq2seq-lasagne':
        return True
    argv = getattr(sys, 'orig_argv', [])
    return any(
        a == '-m' and b in ('seq2seq_lasagne', 'seq2seq_lasagne.cli')
        for a, b in zip(argv, argv[1:])
    )


try:
    compat.apply()
except compat.SettingsRefused as exc:
    # The command imports this package before its main() runs, so it
    # reports the refusal here, the way it reports every bad input: one
    # line, exit code 2.  Anyone else importing the package gets the
    # exception, whose message is that line.
    if not _launched_as_command():
        raise
    print('seq2seq-lasagne: error: %s' % exc, file=sys.stderr)
    raise SystemExit(2) from None

__version__ = '0.1.0'
