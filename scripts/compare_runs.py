"""Compare two ``seq2seq-lasagne reproduce`` outputs, point for point.

For every run (model, seed) present in both, the validation curves must be
identical: the same samples and the same validation accuracy at every
validation.  The mean training costs logged between validations are
compared too, and their largest difference is printed (rounding in a
reduction can move the last digit of a float32 mean).

    python scripts/compare_runs.py OLD_DIR NEW_DIR [--cost-tolerance 1e-6]

Prints one line per run and a verdict; exit 0 when every curve is
identical and every cost within the tolerance, 1 otherwise, 2 on bad input.
"""

import argparse
import json
import sys
from pathlib import Path


def _runs(root):
    """``{(model, seed): metrics}`` of a reproduce output directory."""
    out = {}
    for path in sorted(Path(root).glob('*/seed_*/metrics.json')):
        model = path.parent.parent.name
        seed = int(path.parent.name[len('seed_') :])
        with open(path) as f:
            out[(model, seed)] = json.load(f)
    return out


def compare(old, new, cost_tolerance):
    """Lines describing each run, and whether all runs agree."""
    a, b = _runs(old), _runs(new)
    common = sorted(set(a) & set(b))
    lines, ok = [], bool(common)
    for key in common:
        ha, hb = a[key]['history'], b[key]['history']
        same_curve = [(h['samples'], h['val_accuracy']) for h in ha] == [
            (h['samples'], h['val_accuracy']) for h in hb
        ]
        cost_diff = max(
            (abs(x['cost'] - y['cost']) for x, y in zip(ha, hb)), default=0.0
        )
        good = (
            same_curve and len(ha) == len(hb) and cost_diff <= cost_tolerance
        )
        ok = ok and good
        lines.append(
            '%s seed %d: %d validations, curve %s, largest cost difference '
            '%.2g, final %.4f / %.4f %s'
            % (
                key[0],
                key[1],
                len(hb),
                'identical' if same_curve else 'DIFFERS',
                cost_diff,
                a[key]['val_accuracy'],
                b[key]['val_accuracy'],
                'ok' if good else 'FAIL',
            )
        )
    missing = sorted(set(a) ^ set(b))
    if missing:
        lines.append(
            'only in one of them: %s'
            % ', '.join('%s seed %d' % k for k in missing)
        )
    return lines, ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('old')
    parser.add_argument('new')
    parser.add_argument('--cost-tolerance', type=float, default=1e-6)
    args = parser.parse_args(argv)
    for root in (args.old, args.new):
        if not Path(root).is_dir():
            print(
                'compare_runs: error: %s is not a directory' % root,
                file=sys.stderr,
            )
            return 2
    lines, ok = compare(args.old, args.new, args.cost_tolerance)
    for line in lines:
        print(line)
    if not lines:
        print(
            'compare_runs: error: no run is in both directories',
            file=sys.stderr,
        )
        return 2
    print('all curves identical' if ok else 'DIFFERENT')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
