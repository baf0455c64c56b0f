"""Make a finished training run the package's reference weights.

    python scripts/make_reference.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR is a run of ``seq2seq-lasagne train`` (or one seed of
``seq2seq-lasagne reproduce``, ``OUT/<model>/seed_<s>/``) at the notebook's
settings.  Its ``params.npz`` and ``config.json`` are copied to
``seq2seq_lasagne/reference/<model>/`` with ``record.json``: the command and
seed that trained it, the date the run finished, the accuracy the run
recorded at its last validation, and the accuracy of the copied weights on
the seed's validation set, measured here (the two must agree).
``tests/test_reference.py`` measures it again.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Accuracy the copied weights may differ from the run's own by (rounding).
AGREE = 1e-6


class ScriptError(Exception):
    """Reported as one line on stderr, exit code 2."""


def _read_json(path):
    try:
        with open(str(path)) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ScriptError('%s is missing' % path)
    except ValueError as exc:
        raise ScriptError('%s is corrupt: %s' % (path, exc))


def _git_commit():
    try:
        out = subprocess.run(
            ['git', '-C', str(ROOT), 'rev-parse', 'HEAD'],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _reproduce_command(run_dir):
    """The ``reproduce`` command that made ``OUT/<model>/seed_<s>``."""
    summary = run_dir.parent.parent / 'summary.json'
    if not summary.is_file():
        return None
    run = _read_json(summary).get('_run') or {}
    return run.get('command')


def validation_accuracy(run_dir, settings):
    """Accuracy of the run directory's weights on the seed's validation
    set (the one training validated on)."""
    from seq2seq_lasagne.data_generator import get_batch
    from seq2seq_lasagne.seeding import seeded_rngs
    from seq2seq_lasagne.translator import Translator

    translator = Translator(str(run_dir))
    x, xmask, y, ymask = get_batch(
        settings.val_size,
        settings.min_digits,
        settings.max_digits,
        rng=seeded_rngs(settings.seed)['validation'],
    )[:4]
    return translator.trainer.evaluate(x, y, xmask)['accuracy']


def make_reference(run_dir, target_root):
    """Copy one run into ``target_root/<model>/``; returns its record."""
    from seq2seq_lasagne.settings import RunSettings, notebook_settings

    run_dir = Path(run_dir)
    metrics = _read_json(run_dir / 'metrics.json')
    try:
        settings = RunSettings(**metrics['settings'])
    except (KeyError, TypeError, ValueError) as exc:
        raise ScriptError(
            '%s/metrics.json has no usable settings: %s' % (run_dir, exc)
        )
    wanted = notebook_settings(settings.model, quick=False, seed=settings.seed)
    if settings != wanted:
        differ = sorted(
            k
            for k, v in settings.as_dict().items()
            if wanted.as_dict()[k] != v
        )
        raise ScriptError(
            "%s was not trained at the notebook's settings (differs in %s)"
            % (run_dir, ', '.join(differ))
        )
    if metrics['interrupted'] or metrics['samples_processed'] < (
        settings.samples
    ):
        raise ScriptError('%s did not finish training' % run_dir)

    measured = validation_accuracy(run_dir, settings)
    if abs(measured - metrics['val_accuracy']) > AGREE:
        raise ScriptError(
            '%s: the weights give %.6f on the validation set, the run '
            'recorded %.6f' % (run_dir, measured, metrics['val_accuracy'])
        )
    target = Path(target_root) / settings.model
    target.mkdir(parents=True, exist_ok=True)
    for name in ('params.npz', 'config.json'):
        shutil.copyfile(str(run_dir / name), str(target / name))
    finished = datetime.datetime.fromtimestamp(
        os.path.getmtime(str(run_dir / 'metrics.json'))
    )
    params = (target / 'params.npz').read_bytes()
    record = {
        'model': settings.model,
        'seed': settings.seed,
        'samples': metrics['samples_processed'],
        'command': 'seq2seq-lasagne train --model %s --seed %d --out DIR'
        % (settings.model, settings.seed),
        'reproduce_command': _reproduce_command(run_dir),
        'trained_until': finished.isoformat(timespec='minutes'),
        'settings': settings.as_dict(),
        'validation': {
            'seed': settings.seed,
            'size': settings.val_size,
            'min_digits': settings.min_digits,
            'max_digits': settings.max_digits,
            'accuracy_recorded_by_run': metrics['val_accuracy'],
            'accuracy': measured,
        },
        'best_val_accuracy': metrics['best_val_accuracy'],
        'accuracy_per_position': metrics['accuracy_per_position'],
        'trainable_numbers': _trainable_numbers(target),
        'params_sha256': hashlib.sha256(params).hexdigest(),
        '_run': {
            'command': 'python scripts/make_reference.py RUN_DIR',
            'run_dir': '/'.join(run_dir.resolve().parts[-3:]),
            'date': datetime.datetime.now().isoformat(timespec='minutes'),
            'commit': _git_commit(),
            'machine': '%s, %d CPUs' % (platform.machine(), os.cpu_count()),
        },
    }
    with open(str(target / 'record.json'), 'w') as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write('\n')
    return record


def _trainable_numbers(run_dir):
    from seq2seq_lasagne.checkpoint import load_params, read_config
    from seq2seq_lasagne.models import build_model

    model = build_model(**read_config(str(run_dir)))
    load_params(model, str(run_dir))
    return int(sum(p.get_value().size for p in model.trainable_params()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', help='finished run directories')
    parser.add_argument(
        '--out',
        default=str(ROOT / 'seq2seq_lasagne' / 'reference'),
        help='where the reference directories go (default: the package)',
    )
    args = parser.parse_args(argv)
    try:
        import seq2seq_lasagne  # noqa: F401  (compat fixes first)

        for run in args.runs:
            record = make_reference(run, args.out)
            print(
                '%s: seed %d, validation accuracy %.4f -> %s'
                % (
                    record['model'],
                    record['seed'],
                    record['validation']['accuracy'],
                    os.path.join(args.out, record['model']),
                )
            )
    except ScriptError as exc:
        print('make_reference: error: %s' % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
