"""What g++ spends on each of Theano's C modules, and what would cut it.

A cold start is mostly g++ compiling one module per op (cold_start.py).
This script takes modules Theano already generated (``mod.cpp`` in the
compile directory), compiles each again with Theano's own command line and
with variants of it, interleaved module by module, and prints the seconds
per module and each variant's ratio to Theano's command in the same run:

* ``theano``: Theano 1.0.5's command (``-g`` and ``-O3`` included);
* ``no -g``: without debug information, which nothing here reads;
* ``-O1``, ``-O0``: less optimisation (slower code; for the split only);
* ``pch`` and ``pch, no -g``: the headers every module opens first
  (``Python.h``, NumPy's, Theano's helper) precompiled once, then used by
  ``-include``; the precompiled header's own build is reported apart.

Nothing here changes Theano or the package; it measures the levers before
one is adopted::

    .venv/bin/python benchmarks/compile_flags.py --modules 12
    .venv/bin/python benchmarks/compile_flags.py --compiledir DIR \\
        --out docs/results/bench/compile-flags.json

The modules are drawn (``--seed``) from the compile directory's newest
``--pool`` modules; fill it first (any training or the suite).
"""

import argparse
import datetime
import glob
import importlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_args import default_out  # noqa: E402
from bench_driver import load_average, run_header  # noqa: E402


def fail(message):
    print('compile_flags.py: error: ' + message, file=sys.stderr)
    sys.exit(2)


def theano_command():
    """(compiler, args, include dirs) of Theano's command for a module.

    Taken from Theano itself, on a one-op graph: the compiler's arguments
    (``-march``, ``compat``'s flags) and the linker's (``-O3`` and the
    warnings), the way ``GCC_compiler.compile_str`` puts them together.
    """
    # The package before Theano: compat's flags and headers are Theano's.
    importlib.import_module('seq2seq_lasagne')
    import numpy
    import theano
    import theano.tensor as T
    from theano.gof.cc import CLinker
    from theano.gof.fg import FunctionGraph

    x = T.fvector()
    linker = CLinker().accept(FunctionGraph([x], [x + 1]))
    args = linker.compile_args()
    # cmodule.std_include_dirs(), without numpy.distutils (gone in NumPy 2).
    gof = os.path.join(os.path.dirname(theano.__file__), 'gof')
    includes = linker.header_dirs() + [
        numpy.get_include(),
        sysconfig.get_paths()['include'],
        os.path.join(gof, 'c_code'),
    ]
    return theano.config.cxx, args, includes


def leading_includes(paths):
    """The ``#include`` lines every module opens with, in their order."""
    common = None
    for path in paths:
        lines = []
        with open(path) as f:
            for line in f:
                if not line.startswith('#include'):
                    break
                lines.append(line.strip())
        common = (
            lines
            if common is None
            else [line for line in common if line in lines]
        )
    return common or []


def compile_once(cmd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode:
        tail = (proc.stderr.strip().splitlines() or ['?'])[-1]
        fail('g++ failed (%s): %s' % (' '.join(cmd[:3]), tail[:300]))
    return took, proc.stderr


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--modules', type=int, default=12)
    parser.add_argument('--pool', type=int, default=300)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--compiledir',
        default=None,
        help="Theano's compile directory holding the modules "
        '(default: the current one)',
    )
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    if args.modules < 1 or args.pool < args.modules:
        fail('--modules must be at least 1 and at most --pool')

    started, load_start = datetime.datetime.now(), load_average()
    cxx, base, includes = theano_command()
    if not cxx:
        fail('Theano found no C++ compiler (config.cxx is empty)')
    import theano

    compiledir = args.compiledir or theano.config.compiledir
    pool = sorted(
        glob.glob(os.path.join(compiledir, '*', 'mod.cpp')),
        key=os.path.getmtime,
    )[-args.pool :]
    if len(pool) < args.modules:
        fail(
            '%s holds %d modules, fewer than --modules %d (fill it first: '
            'a training or the suite)' % (compiledir, len(pool), args.modules)
        )
    modules = random.Random(args.seed).sample(pool, args.modules)

    work = tempfile.mkdtemp(prefix='compile-flags-')
    try:
        header = os.path.join(work, 'common.h')
        with open(header, 'w') as f:
            f.write('\n'.join(leading_includes(modules)) + '\n')
        include_args = ['-I' + d for d in includes]
        opt = [a for a in base if not a.startswith('-O')]
        variants = {
            'theano': ['-g', '-O3'] + opt,
            'no -g': ['-O3'] + opt,
            '-O1': ['-g', '-O1'] + opt,
            '-O0': ['-g', '-O0'] + opt,
            'pch': ['-g', '-O3'] + opt,
            'pch, no -g': ['-O3'] + opt,
        }
        pch_build = {}
        for name in ('pch', 'pch, no -g'):
            gch = os.path.join(work, name.replace(', ', '-').replace(' ', ''))
            os.makedirs(gch)
            shutil.copy(header, os.path.join(gch, 'common.h'))
            took, _ = compile_once(
                [cxx, '-x', 'c++-header']
                + variants[name]
                + include_args
                + [header, '-o', os.path.join(gch, 'common.h.gch')]
            )
            pch_build[name] = took
            variants[name] = variants[name] + [
                '-include',
                os.path.join(gch, 'common.h'),
                '-Winvalid-pch',
            ]
        times = {name: [] for name in variants}
        target = os.path.join(work, 'mod.so')
        for i, module in enumerate(modules):
            for name, flags in variants.items():
                took, err = compile_once(
                    [cxx, '-shared']
                    + flags
                    + include_args
                    + [module, '-o', target]
                )
                if name.startswith('pch') and 'not using' in err:
                    fail('the precompiled header was not used: ' + err[:300])
                times[name].append(took)
            print(
                'module %d/%d: %s'
                % (
                    i + 1,
                    len(modules),
                    ', '.join(
                        '%s %.2f s' % (n, t[-1]) for n, t in times.items()
                    ),
                ),
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        '\n%d modules from %s (the newest %d), each compiled once per '
        'variant, interleaved' % (len(modules), compiledir, len(pool))
    )
    print('%-12s %14s %14s' % ('variant', 's per module', 'vs theano'))
    summary = {}
    for name, values in times.items():
        ratios = [v / t for v, t in zip(values, times['theano'])]
        summary[name] = {
            'seconds_mean': statistics.mean(values),
            'seconds': values,
            'ratio_to_theano_median': statistics.median(ratios),
            'pch_build_seconds': pch_build.get(name),
        }
        print(
            '%-12s %14.2f %14.2f'
            % (name, statistics.mean(values), statistics.median(ratios))
        )
    for name, took in pch_build.items():
        print('precompiled header (%s): built once in %.2f s' % (name, took))

    out = args.out or default_out('compile-flags', started)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(
            {
                '_run': run_header(started, load_start, load_average()),
                'modules': len(modules),
                'common_includes': leading_includes(modules),
                'variants': summary,
            },
            f,
            indent=1,
        )
        f.write('\n')
    print('wrote %s' % out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
