"""The plateau over the same seeds with ``--plateau-restarts N``.

A run with restarts trains exactly as the notebook's recipe until a
validation finds it still on the plateau at ``settings.PLATEAU_SAMPLES``
(``plateau.restart_due``); only then does it start again from new weights.
So over a set of seeds, the option changes only the runs of the recipe
that were due a restart. This script takes every other seed's run from the
recipe's folder and the due ones from a folder of runs made with the
option, checks that each of those begins exactly as the recipe's run of
its seed (the same validations up to the restart), and writes the option's
plateau statistics in the form of a reproduce summary, so that
``docs/PLATEAU.md`` shows them beside the recipe's::

    seq2seq-lasagne reproduce --out runs/plateau-restarts \\
        --models attention --seeds 4 12 --plateau-restarts 1
    python scripts/plateau_restarts.py --recipe runs/plateau \\
        --restarted runs/plateau-restarts --restarts 1 --seeds 0 1 ... 19 \\
        --json docs/results/plateau/restarts.json

Exit status 2 with one line when a due seed has no restarted run, or its
run does not begin as the recipe's did.
"""

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class Mismatch(Exception):
    """The runs given do not make the option's set of runs."""


def _metrics(folder, seed):
    path = os.path.join(folder, 'attention', 'seed_%d' % seed, 'metrics.json')
    try:
        with open(path) as f:
            metrics = json.load(f)
    except (OSError, ValueError) as exc:
        raise Mismatch('%s: cannot read it (%s)' % (path, exc))
    if metrics.get('interrupted'):
        raise Mismatch('%s: the run was interrupted' % path)
    return path, metrics


def due_at(settings, history):
    """The samples of the validation at which a run of ``settings`` with
    this (restart-free) history would have started again, or None."""
    from seq2seq_lasagne import plateau

    for i in range(1, len(history) + 1):
        if plateau.restart_due(settings, history[:i]):
            return history[i - 1]['samples']
    return None


def combine(recipe, restarted, seeds, restarts):
    """The histories of the option's runs, and where each came from."""
    from seq2seq_lasagne import plateau
    from seq2seq_lasagne.settings import RunSettings

    settings = RunSettings(model='attention', plateau_restarts=restarts)
    histories, runs = [], []
    for seed in seeds:
        path, metrics = _metrics(recipe, seed)
        settings_seed = dataclasses.replace(settings, seed=seed)
        due = due_at(settings_seed, metrics['history'])
        source = 'recipe'
        if due is not None:
            first = [h for h in metrics['history'] if h['samples'] <= due]
            path, metrics = _metrics(restarted, seed)
            if metrics['settings'].get('plateau_restarts') != restarts:
                raise Mismatch(
                    '%s: not run with --plateau-restarts %d' % (path, restarts)
                )
            if not plateau.begins_as(metrics['history'], first):
                raise Mismatch(
                    '%s: does not begin as the recipe run of seed %d did'
                    % (path, seed)
                )
            source = 'restarted at %d samples' % due
        histories.append(metrics['history'])
        runs.append(
            {
                'seed': seed,
                'source': source,
                'samples': metrics['samples_processed'],
                'final': metrics['val_accuracy'],
            }
        )
    return histories, runs


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog='plateau_restarts', description=__doc__.splitlines()[0]
    )
    parser.add_argument('--recipe', required=True, help="the recipe's runs")
    parser.add_argument(
        '--restarted', required=True, help='runs made with the option'
    )
    parser.add_argument('--restarts', type=int, required=True)
    parser.add_argument('--seeds', type=int, nargs='+', required=True)
    parser.add_argument('--json', required=True, help='write it here')
    args = parser.parse_args(argv)
    if args.restarts < 1:
        parser.error('--restarts must be at least 1')

    from seq2seq_lasagne import plateau
    from seq2seq_lasagne.checkpoint import write_json
    from seq2seq_lasagne.reporting import provenance

    try:
        histories, runs = combine(
            args.recipe, args.restarted, args.seeds, args.restarts
        )
    except Mismatch as exc:
        parser.error(str(exc))
    command = ' '.join(
        ['python scripts/plateau_restarts.py'] + [shlex.quote(a) for a in argv]
    )
    run = provenance(command)
    run['options'] = {'plateau_restarts': args.restarts}
    result = {
        'attention': {
            'seeds': args.seeds,
            'plateau': plateau.statistics(histories),
            'runs': runs,
        },
        '_run': run,
    }
    write_json(args.json, result)
    restarted = [r['seed'] for r in runs if r['source'] != 'recipe']
    print(
        'plateau_restarts: %d runs, %d restarted (seeds %s); wrote %s'
        % (
            len(runs),
            len(restarted),
            ' '.join(map(str, restarted)) or 'none',
            args.json,
        )
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
