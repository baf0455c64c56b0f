"""Command-line pieces the benchmark scripts share.

The timing options (``--steps``, ``--warmup``, ``--repeats``,
``--val-repeats``, ``--seed``) and how a driver hands them on to its
worker, comma-separated names checked against the known ones, counts that
must be at least some minimum, a worker's result line, and the default
place of a result file.  Each script keeps its own options; these are the
ones several of them took, and checked, each in its own words.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

#: What each timing option means, for ``--help``.
TIMING_HELP = {
    'steps': 'timed training steps per repeat',
    'warmup': 'untimed training steps first',
    'repeats': 'timed repeats, the median taken',
    'val_repeats': 'validation passes, the median taken',
    'seed': 'seed of the weights and the batches',
}


def option(name):
    """``val_repeats`` -> ``--val-repeats``."""
    return '--' + name.replace('_', '-')


def add_timing_options(parser, **defaults):
    """Add the timing options named, each with its default.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    **defaults
        ``name=default`` for each of :data:`TIMING_HELP`'s names the
        script takes, in the order given; a default of None leaves the
        choice to the script (``bench_training.py --quick``).
    """
    for name, default in defaults.items():
        text = TIMING_HELP[name]
        if default is not None:
            text += ' (default %s)' % default
        parser.add_argument(option(name), type=int, default=default, help=text)


def timing_arguments(args, *names):
    """The worker's arguments that pass these options of ``args`` on."""
    out = []
    for name in names:
        out += [option(name), str(getattr(args, name))]
    return out


def name_list(error, text, known, what):
    """The comma-separated names of ``text``, each one of ``known``.

    Parameters
    ----------
    error : callable
        Called with one line when a name is unknown (``parser.error``, or
        a script's own one-line error); it does not return.
    text : str
    known : sequence of str
    what : str
        What a name is, for the error (``'model'``).

    Returns
    -------
    list of str
    """
    chosen = [n for n in text.split(',') if n]
    for n in chosen:
        if n not in known:
            error('unknown %s %r (known: %s)' % (what, n, ', '.join(known)))
    return chosen


def at_least(error, args, **minimums):
    """Call ``error`` with one line for the first option of ``args`` below
    its minimum (``rounds=1``: ``--rounds must be at least 1``)."""
    for name, minimum in minimums.items():
        if getattr(args, name) < minimum:
            error('%s must be at least %d' % (option(name), minimum))


def marked_result(proc, mark):
    """A worker's result: the JSON of its last stdout line that starts
    with ``mark``, or ``{'error': ...}`` with its exit status and the end
    of its stderr when it failed or printed none."""
    lines = [
        line for line in proc.stdout.splitlines() if line.startswith(mark)
    ]
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1][len(mark) :])
    return {
        'error': 'exit %d: %s' % (proc.returncode, proc.stderr.strip()[-2000:])
    }


def default_out(stem, started):
    """``benchmarks/results/<stem>-<date>-<time>.json`` (git-ignored)."""
    return os.path.join(
        HERE, 'results', '%s-%s.json' % (stem, started.strftime('%Y%m%d-%H%M'))
    )
