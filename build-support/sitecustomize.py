"""Let Theano 1.0.5's sdist build on Python 3.12 and later.

Theano's ``setup.py`` reads its ``setup.cfg`` through an old copy of
versioneer that calls ``configparser.SafeConfigParser`` and
``ConfigParser.readfp``; Python 3.12 removed both (they were deprecated
aliases of ``ConfigParser`` and ``read_file`` since 3.2).  The README's
install puts this directory on ``PYTHONPATH`` for one ``pip install
--no-build-isolation`` command, so that the Python processes pip starts to
build the sdists find the two names again.  Nothing is installed from
here and Theano's files are not changed; on Python 3.10 and 3.11, which
still have both names, this does nothing.  docs/PYTHONS.md explains the
choice.
"""
import configparser
import importlib.machinery
import importlib.util
import os
import sys

if not hasattr(configparser, 'SafeConfigParser'):
    configparser.SafeConfigParser = configparser.ConfigParser
_parser = configparser.RawConfigParser
if not hasattr(_parser, 'readfp'):
    _parser.readfp = _parser.read_file


def _run_shadowed_sitecustomize():
    """Run the ``sitecustomize`` this file hides (Debian ships one)."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_run_shadowed_sitecustomize()
