"""``python -m seq2seq_lasagne``: the ``seq2seq-lasagne`` command."""

import sys

from .cli import main

sys.exit(main())
