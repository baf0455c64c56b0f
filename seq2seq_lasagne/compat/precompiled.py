"""Theano's C modules compiled with a precompiled header.

Why: every C module Theano 1.0.5 writes opens with the same ``#include``
lines (``Python.h``, ``iostream``, Theano's ``theano_mod_helper.h``,
``math.h``, NumPy's ``arrayobject.h`` and ``arrayscalars.h``), and g++
spends most of a small module reading them: ``benchmarks/compile_flags.py``
compiles modules of the lab again with Theano's command and with variants.
A cold start compiles one module per op, about two hundred for the
attention model (``benchmarks/cold_start.py``).

What changes: ``GCC_compiler.compile_str`` is wrapped.  When a module's
source opens with those lines, the wrapper passes g++
``-include <dir>/common.h -Winvalid-pch``, where ``common.h`` holds exactly
the module's opening ``#include`` lines and ``common.h.gch`` is their
compiled form, built once per compiler and command line (its folder,
``<compiledir>/seq2seq-lasagne-pch/<digest>``, is named by a digest of
both and of the lines).  The module itself, its text, its cache key and
its compiled code are Theano's: the header's lines come first, the
module's own then find their include guards set, and g++ loads the
compiled form instead of parsing the headers again.  When the compiled
form does not fit (``-Winvalid-pch`` says why, Theano keeps it quiet), g++
reads ``common.h`` as text: slower, the same module.

A header the command already forces in (``-include``: ``compat.numpy_c``'s
on NumPy 2) becomes the first line of ``common.h``, and its ``-include``
gives way to ``common.h``'s: g++ reads the same lines in the same order.
Left as Theano does it: a module whose source opens otherwise, or when the
header cannot be built (a read-only compile directory, a compiler refusing
``-x c++-header``): Theano's own command.  ``SEQ2SEQ_PCH=0`` turns the
wrapper off.
"""

import hashlib
import os
import subprocess
import tempfile
import threading

from . import compile_call

ENV = 'SEQ2SEQ_PCH'
FOLDER = 'seq2seq-lasagne-pch'

#: The lines a module may open with and the header may hold, in the order
#: Theano's CLinker writes them (its own headers, then the ops').
COMMON = (
    '#include <Python.h>',
    '#include <iostream>',
    '#include "theano_mod_helper.h"',
    '#include <math.h>',
    '#include <numpy/arrayobject.h>',
    '#include <numpy/arrayscalars.h>',
)

#: How many headers were built, and modules compiled with one, in this
#: process, and the last header used with its options (tests and
#: benchmarks read them).
stats = {'built': 0, 'used': 0, 'skipped': 0, 'failed': 0, 'last': None}

#: compat.parallel_compile calls the wrapper from several threads: one
#: builds a missing header while the others wait for it.
_build_lock = threading.Lock()


def opening_includes(src_code):
    """The source's opening lines while they are :data:`COMMON`'s, in order.

    Parameters
    ----------
    src_code : str

    Returns
    -------
    tuple of str
        A prefix of :data:`COMMON` (empty when the source opens otherwise).
    """
    lines = src_code.split('\n', len(COMMON))
    taken = []
    for line, expected in zip(lines, COMMON):
        if line.strip() != expected:
            break
        taken.append(expected)
    return tuple(taken)


def split_forced(args):
    """The headers ``args`` force in (``-include F`` or ``-includeF``), and
    the other arguments, each in order."""
    forced, rest = [], []
    args = iter(args)
    for arg in args:
        if arg == '-include':
            forced.append(next(args, ''))
        elif arg.startswith('-include'):
            forced.append(arg[len('-include') :])
        else:
            rest.append(arg)
    return forced, rest


def header_flags(preargs, include_dirs, hide_symbols):
    """g++'s options for the header: those ``compile_str`` gives a module.

    The ``-g`` and the ``-fvisibility`` are added by ``compile_str`` itself;
    a precompiled header is used only under the options it was built with.
    The linker's options and files (BLAS ops pass ``-Wl,-rpath,...`` and
    libraries) are left out: building the header does not link.
    """
    flags = ['-g'] + [a for a in preargs if not _links(a)]
    flags += ['-I' + d for d in include_dirs]
    if hide_symbols:
        flags.append('-fvisibility=hidden')
    return flags


def _links(arg):
    return arg.startswith(('-Wl,', '-l', '-L')) or arg.endswith(('.so', '.a'))


def header_for(compiledir, cxx, version, lines, flags):
    """Path of ``common.h`` for these lines and options, its ``.gch`` built.

    Returns
    -------
    str or None
        The header's path, or None when it could not be built.
    """
    digest = hashlib.sha256(
        '\0'.join([cxx, version] + list(lines) + ['--'] + flags).encode()
    ).hexdigest()[:20]
    folder = os.path.join(compiledir, FOLDER, digest)
    header = os.path.join(folder, 'common.h')
    if os.path.isfile(header + '.gch') and os.path.isfile(header):
        return header
    partial = None
    try:
        os.makedirs(folder, exist_ok=True)
        if not os.path.isfile(header):
            _write_atomically(header, ''.join(line + '\n' for line in lines))
        fd, partial = tempfile.mkstemp(dir=folder, suffix='.gch.part')
        os.close(fd)
        # -x last: it would make any file among the flags a header too.
        proc = subprocess.run(
            [cxx] + flags + ['-x', 'c++-header', header, '-o', partial],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            return None
        os.replace(partial, header + '.gch')
        partial = None
    except OSError:  # a full disk, a read-only compile directory
        return None
    finally:
        if partial is not None:
            try:
                os.unlink(partial)
            except OSError:
                pass
    stats['built'] += 1
    return header


def _write_atomically(path, text):
    fd, partial = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.part')
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.replace(partial, path)


def _with_header(call, shipped):
    """``compile_str`` with the precompiled header when the module's
    source opens with its lines (see the module's docstring)."""
    from theano import config
    from theano.gof import cmodule

    preargs = list(call.preargs or [])
    lines = opening_includes(call.src_code)
    forced, others = split_forced(preargs)
    if not (lines and config.cxx and all(forced)):
        stats['skipped'] += 1
        return shipped(*call)
    lines = tuple('#include "%s"' % f for f in forced) + lines
    # The options compile_str will give g++ for this module.
    given = others
    if config.cmodule.remove_gxx_opt:
        given = [p for p in others if not p.startswith('-O')]
    dirs = [d for d in call.include_dirs or [] if d]
    try:
        flags = header_flags(
            given, dirs + cmodule.std_include_dirs(), call.hide_symbols
        )
        with _build_lock:
            header = header_for(
                config.compiledir,
                config.cxx,
                cmodule.GCC_compiler.version_str(),
                lines,
                flags,
            )
    except Exception:  # Theano's own command then says what fails
        header = None
    if header is None:
        stats['failed'] += 1
        return shipped(*call)
    stats['used'] += 1
    stats['last'] = (header, flags)
    preargs = others + ['-include', header, '-Winvalid-pch']
    return shipped(*call._replace(preargs=preargs))


def install():
    """Wrap ``GCC_compiler.compile_str``; returns what changed."""
    if os.environ.get(ENV, '1') == '0':
        return []
    if not compile_call.wrap('_seq2seq_pch', _with_header):
        return []
    return [
        "Theano's C modules compiled with their common headers precompiled "
        '(seq2seq-lasagne-pch/ in the compile directory; SEQ2SEQ_PCH=0 '
        'turns this off): g++ no longer parses Python.h and NumPy for '
        'each module'
    ]
