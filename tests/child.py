"""A piece of Python run in a fresh process with its own Theano compile
directory: how the compat tests see what a cold start does."""

import json
import os
import subprocess
import sys

MARK = 'RESULT '


def run_child(code, compiledir, **env):
    """Run ``code`` with ``base_compiledir=compiledir`` and ``env`` added
    to the environment (no ``THEANORC``); the JSON of its last line that
    starts with ``RESULT ``."""
    full = dict(os.environ)
    full.pop('THEANORC', None)
    full['THEANO_FLAGS'] = 'base_compiledir=' + str(compiledir)
    full.update(env)
    proc = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, env=full
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
    assert lines, proc.stdout[-3000:]
    return json.loads(lines[-1][len(MARK) :])
