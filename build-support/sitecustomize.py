"""What the README's install needs from Python before pip starts.

The README's second set-up command puts this directory on ``PYTHONPATH``
for one ``pip install --no-build-isolation``; Python then runs this file
at the start of pip and of every build process pip starts.  Nothing is
installed from here.  It does two things (docs/PYTHONS.md):

1. **Refuses an unsupported Python at once**, with one line naming the
   supported versions (``requires-python`` of ``pyproject.toml``).
   Without it, pip on Python 3.9 first tries the lock, whose pins need
   3.10, and ends in a ResolutionImpossible about some other package.
2. **Lets Theano 1.0.5's sdist build on Python 3.12+.**  Its ``setup.py``
   reads ``setup.cfg`` through an old copy of versioneer that calls
   ``configparser.SafeConfigParser`` and ``ConfigParser.readfp``; Python
   3.12 removed both (deprecated aliases of ``ConfigParser`` and
   ``read_file`` since 3.2).  They are put back while pip runs, only where
   missing; Theano's files are not changed.

A ``sitecustomize`` this file hides (Debian's) is run afterwards.
"""

import configparser
import importlib.machinery
import importlib.util
import os
import re
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYPROJECT = os.path.join(os.path.dirname(_HERE), 'pyproject.toml')
_COMPARE = {
    '>=': lambda a, b: a >= b,
    '>': lambda a, b: a > b,
    '<=': lambda a, b: a <= b,
    '<': lambda a, b: a < b,
    '==': lambda a, b: a == b,
    '!=': lambda a, b: a != b,
}


def supported(requires_python):
    """The ``3.N`` versions a ``requires-python`` string of X.Y bounds
    admits, e.g. ``'>=3.10,<3.14'`` -> ``['3.10', ..., '3.13']``."""
    bounds = []
    for item in requires_python.split(','):
        m = re.fullmatch(r'\s*(>=|<=|==|!=|<|>)\s*(\d+)\.(\d+)\s*', item)
        if not m:
            raise ValueError(
                'cannot read requires-python %r' % requires_python
            )
        bounds.append(
            (_COMPARE[m.group(1)], (int(m.group(2)), int(m.group(3))))
        )
    return [
        '3.%d' % n
        for n in range(100)
        if all(ok((3, n), v) for ok, v in bounds)
    ]


def _refuse_unsupported_python():
    try:
        with open(_PYPROJECT) as f:
            spec = re.search(
                r'^requires-python\s*=\s*"([^"]*)"', f.read(), re.M
            ).group(1)
    except (OSError, AttributeError):
        return
    versions = supported(spec)
    if '%d.%d' % sys.version_info[:2] in versions:
        return
    names = ' or '.join(
        filter(None, [', '.join(versions[:-1])] + versions[-1:])
    )
    sys.stderr.write(
        'seq2seq-lasagne: error: Python %d.%d is not supported; use Python '
        '%s (requires-python "%s" in pyproject.toml)\n'
        % (sys.version_info[:2] + (names, spec))
    )
    sys.stderr.flush()
    os._exit(2)  # SystemExit here would print a fatal-error traceback


def _restore_configparser_aliases():
    if not hasattr(configparser, 'SafeConfigParser'):
        configparser.SafeConfigParser = configparser.ConfigParser
    parser = configparser.RawConfigParser
    if not hasattr(parser, 'readfp'):
        parser.readfp = parser.read_file


def _run_shadowed_sitecustomize():
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


if __name__ == 'sitecustomize':  # not when a test imports this file
    _refuse_unsupported_python()
    _restore_configparser_aliases()
    _run_shadowed_sitecustomize()
