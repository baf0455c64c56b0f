"""Why some attention runs stay on the plateau: diagnostics at every
validation.

Trains attention runs at the notebook's settings exactly as
``seq2seq-lasagne reproduce`` does (the same ``train_run``, one trainer
reused over the seeds, run directories ``OUT/attention/seed_<s>/``, so
``reproduce --out OUT`` later finds them finished), and measures, before
training and after every validation, on a fixed diagnostic set (its own
seed, the same for every run; nothing of the run's data, weights or
optimiser state is touched):

* the gradient of the training cost: its total norm before clipping, per
  part of the network (encoder, alignment network, decoder LSTM, output
  layer), the fraction of its elements beyond the element-wise bound, its
  norm after that clipping, and whether the total-norm constraint then
  scales it down (the recipe: clip to [-3, 3], then to total norm 3);
* the attention: its entropy (1 is uniform over the input), its mass on
  the padded positions and on the positions whose encoder state is the
  final one (the last character and the padding), its mass on the word
  of the digit being decoded, how much it moves from one decoding step to
  the next, and the slope of its peak;
* the decoder's and the encoder's states: size, and how much they vary
  over the decoding steps and over the input positions;
* how far each part's weights moved per training step since the last
  validation.

Each run directory gets ``diagnostics.json``; ``--json`` gathers every
run's curve and diagnostics into one file (``docs/PLATEAU.md`` renders its
tables from the committed one)::

    python scripts/plateau_study.py --out runs/plateau --seeds 0 1 2 \\
        --json docs/results/plateau/study.json

A finished run is skipped, an interrupted one resumes (its diagnostics
too).  With ``--jobs N`` each seed runs in a worker process of its own, N
at once, each on one thread (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``
1) and with a Theano compile cache of its own under ``OUT/theano-cache/``
(one shared cache would make the workers wait on its lock); each worker's
output goes to ``OUT/logs/seed_<s>.log``.  ``--budget SECONDS`` then stops
the running workers cleanly (SIGTERM: each saves its run) and starts no
more; ``--json`` holds the runs that finished, the rest are listed under
``unfinished`` and resume on the next call::

    python scripts/plateau_study.py --out runs/plateau --seeds 0 1 ... 19 \\
        --jobs 16 --budget 420 --json study.json --summary summary.json

Exit status: 0 when every run finished, 1 when some did not, 130 when
interrupted, 2 with one line on stderr for bad arguments.
"""

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Seed of the diagnostic set (any fixed value; never a run's seed stream).
DIAGNOSTIC_SEED = 20160101
#: The diagnostic set: this many batches of the training batch size.
DIAGNOSTIC_BATCHES = 5

#: Parts of the network, by a piece of their parameters' names.
PARTS = (
    ('alignment', 'AlignSeqOutputLayer'),
    ('encoder', 'GRUEncoder'),
    ('decoder', 'LSTMDecoder'),
    ('output', 'SoftmaxOutput'),
)


def _part(name):
    for part, piece in PARTS:
        if piece in name:
            return part
    return 'other'


class Diagnostics:
    """A compiled function measuring a model on fixed batches.

    Parameters
    ----------
    trainer : Trainer
        Of the attention model; its parameters are read, never written.
    settings : RunSettings
        The run's settings (sizes, clipping bounds).
    """

    def __init__(self, trainer, settings):
        import numpy as np
        import theano
        import theano.tensor as T

        from seq2seq_lasagne.compilation import deep_graph_recursion
        from seq2seq_lasagne.data_generator import get_batch
        from seq2seq_lasagne.objectives import (
            sequence_accuracy,
            sequence_cost,
        )

        self.settings = settings
        model = trainer.model
        output = model.get_output(deterministic=False)
        layer = model.l_dec
        alpha, hid, cell = layer.alpha, layer.hid_out, layer.cell_out
        enc = model.get_output(model.l_enc)
        cost = sequence_cost(output, model.y_sym, None)
        accuracy = sequence_accuracy(output, model.y_sym, None)
        self.params = model.trainable_params()
        self.parts = [_part(p.name) for p in self.params]
        start = time.perf_counter()
        with deep_graph_recursion():
            grads = T.grad(cost, self.params)
            self.fn = theano.function(
                [model.x_sym, model.y_sym, model.xmask_sym],
                [cost, accuracy, alpha, hid, cell, enc] + grads,
                name='diagnostics_fn',
            )
        self.compile_seconds = time.perf_counter() - start
        rng = np.random.RandomState(DIAGNOSTIC_SEED)
        self.batches = [
            get_batch(
                settings.batch_size,
                settings.min_digits,
                settings.max_digits,
                rng=rng,
            )
            for _ in range(DIAGNOSTIC_BATCHES)
        ]
        self.previous = None

    def values(self):
        return [p.get_value() for p in self.params]

    def measure(self, samples, steps_since=None):
        """Every diagnostic, averaged over the diagnostic batches.

        Parameters
        ----------
        samples : int
            Samples processed so far (recorded with the figures).
        steps_since : int, optional
            Training steps since the previous :meth:`measure` call, for
            the weights' movement per step.
        """
        import numpy as np

        per_batch = [self._batch(b) for b in self.batches]
        record = {'samples': int(samples)}
        for key in per_batch[0]:
            record[key] = float(np.mean([b[key] for b in per_batch]))
        values = self.values()
        for part, _ in PARTS:
            chosen = [v for v, p in zip(values, self.parts) if p == part]
            record['weight_norm_' + part] = _norm(chosen)
        if self.previous is not None and steps_since:
            for part, _ in PARTS:
                moved = [
                    v - w
                    for v, w, p in zip(values, self.previous, self.parts)
                    if p == part
                ]
                record['step_' + part] = _norm(moved) / steps_since
        self.previous = values
        return record

    def _batch(self, batch):
        import numpy as np

        x, xmask, y, _, texts, _ = batch
        out = self.fn(x, y, xmask)
        cost, accuracy, alpha, hid, cell, enc = out[:6]
        grads = out[6:]
        clip, max_norm = self.settings.grad_clip, self.settings.max_norm
        flat = np.concatenate([g.ravel() for g in grads])
        clipped = [np.clip(g, -clip, clip) for g in grads]
        norm_clipped = _norm(clipped)
        stats = {
            'cost': float(cost),
            'accuracy': float(accuracy),
            'grad_norm': _norm(grads),
            'grad_elements_clipped': float(np.mean(np.abs(flat) > clip)),
            'grad_norm_after_clip': norm_clipped,
            'grad_total_norm_scaled': float(norm_clipped > max_norm),
            'grad_scale': min(1.0, max_norm / max(norm_clipped, 1e-30)),
        }
        for part, _ in PARTS:
            stats['grad_norm_' + part] = _norm(
                [g for g, p in zip(grads, self.parts) if p == part]
            )
        stats.update(attention_statistics(alpha, xmask, texts))
        lengths = xmask.sum(axis=1).astype(int)
        real = xmask.astype(bool)
        stats['decoder_hidden_abs'] = float(np.mean(np.abs(hid)))
        stats['decoder_cell_abs'] = float(np.mean(np.abs(cell)))
        # How much the decoder's state changes over the decoding steps:
        # the attention can only move if it does.
        stats['decoder_hidden_step_std'] = float(np.mean(hid.std(axis=1)))
        stats['encoder_abs'] = float(np.mean(np.abs(enc[real])))
        stats['encoder_position_std'] = float(
            np.mean([e[:n].std(axis=0).mean() for e, n in zip(enc, lengths)])
        )
        return stats


def _norm(arrays):
    import numpy as np

    return float(np.sqrt(sum(float(np.sum(np.square(a))) for a in arrays)))


def word_spans(text):
    """``(start, end)`` character span of each word of a spelled input."""
    spans, start = [], 0
    for word in text.split(' '):
        spans.append((start, start + len(word)))
        start += len(word) + 1
    return spans


def attention_statistics(alpha, xmask, texts):
    """Where the attention of one batch goes.

    Parameters
    ----------
    alpha : ndarray, (batch, steps, L)
    xmask : ndarray, (batch, L)
    texts : list of str
        The spelled inputs (their words give the digit positions).

    Returns
    -------
    dict
        ``attention_entropy`` (mean over samples and steps, divided by
        ``log L``: 1 is uniform), ``attention_pad_mass`` and
        ``pad_share`` (the padded positions' weight and share of the
        positions), ``attention_end_mass`` (the last character and the
        padding, whose encoder states are the final state),
        ``attention_word_mass`` (digit steps: the weight on that digit's
        word), ``attention_near_mass`` (on that word or a neighbour),
        ``attention_step_change`` (total variation between consecutive
        steps' weights), ``attention_score_spread`` (standard deviation of
        the scores over the real positions), ``attention_peak_slope``
        (input characters per digit of the mean weights' peak).
    """
    import numpy as np

    from seq2seq_lasagne.metrics import attention_diagonal

    batch, steps, width = alpha.shape
    safe = np.maximum(alpha, 1e-30)
    entropy = -(alpha * np.log(safe)).sum(axis=-1) / np.log(width)
    pad = (1 - xmask)[:, None, :]
    lengths = xmask.sum(axis=1).astype(int)
    end = pad.copy()
    end[np.arange(batch), 0, lengths - 1] = 1
    word, near, spread = [], [], []
    for i, text in enumerate(texts):
        spans = word_spans(text)
        for k, (a, b) in enumerate(spans[: steps - 1]):
            word.append(alpha[i, k, a:b].sum())
            lo = spans[max(k - 1, 0)][0]
            hi = spans[min(k + 1, len(spans) - 1)][1]
            near.append(alpha[i, k, lo:hi].sum())
        logs = np.log(safe[i, :, : lengths[i]])
        spread.append(logs.std(axis=-1).mean())
    return {
        'attention_entropy': float(entropy.mean()),
        'attention_pad_mass': float((alpha * pad).sum(axis=-1).mean()),
        'pad_share': float(pad.mean()),
        'attention_end_mass': float((alpha * end).sum(axis=-1).mean()),
        'attention_word_mass': float(np.mean(word)),
        'attention_near_mass': float(np.mean(near)),
        'attention_step_change': float(
            0.5 * np.abs(np.diff(alpha, axis=1)).sum(axis=-1).mean()
        ),
        'attention_score_spread': float(np.mean(spread)),
        'attention_peak_slope': attention_diagonal(alpha)['slope'],
    }


def _read(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _settings(seed, samples=None, quick=None):
    """A study run's settings: the notebook's, but for ``quick``."""
    from seq2seq_lasagne.settings import RunSettings

    return RunSettings(
        model='attention', seed=seed, samples=samples, **(quick or {})
    )


def _run_dir(out_dir, seed):
    return os.path.join(out_dir, 'attention', 'seed_%d' % seed)


def _finished(metrics, settings):
    return (
        metrics is not None
        and not metrics['interrupted']
        and metrics['samples_processed'] >= settings.samples
    )


def study(out_dir, seeds, samples=None, log=print, quick=None):
    """Train (or resume) each seed with diagnostics, one after the other,
    in this process.

    Parameters
    ----------
    out_dir : str
        The runs directory (``OUT/attention/seed_<s>/``).
    seeds : list of int
    samples : int, optional
        Default: the notebook's.
    log : callable
    quick : dict, optional
        ``val_interval`` and ``val_size`` other than the notebook's (quick
        checks of this script only; the study uses the notebook's).

    Raises
    ------
    KeyboardInterrupt
        A run was stopped (Ctrl-C, SIGTERM, SIGHUP); what it trained is
        saved and resumes on the next call.
    """
    from seq2seq_lasagne.checkpoint import write_json
    from seq2seq_lasagne.experiment import load_metrics, train_run
    from seq2seq_lasagne.training import build_trainer

    trainer = diagnostics = None
    for seed in seeds:
        settings = _settings(seed, samples, quick)
        run_dir = _run_dir(out_dir, seed)
        path = os.path.join(run_dir, 'diagnostics.json')
        found = _read(path) or {'seed': seed, 'records': []}
        if _finished(load_metrics(run_dir), settings):
            log(
                'seed %d: done already%s'
                % (seed, '' if found['records'] else ' (no diagnostics)')
            )
            continue
        if trainer is None:
            log('seed %d: compiling the model and the diagnostics' % seed)
            trainer = build_trainer(settings)
            trainer.compile()
            diagnostics = Diagnostics(trainer, settings)
            log('diagnostics compiled in %.0f s' % diagnostics.compile_seconds)
        records = {r['samples']: r for r in found['records']}
        diagnostics.previous = None
        if 0 not in records:
            trainer.reset(seed)
            records[0] = diagnostics.measure(0)
        os.makedirs(run_dir, exist_ok=True)
        last = [max(records)]

        def on_validation(
            state, records=records, last=last, path=path, seed=seed
        ):
            steps = (state.samples_processed - last[0]) // settings.batch_size
            record = diagnostics.measure(state.samples_processed, steps)
            record['val_accuracy'] = state.val_accuracy
            records[state.samples_processed] = record
            last[0] = state.samples_processed
            ordered = [records[k] for k in sorted(records)]
            write_json(path, {'seed': seed, 'records': ordered})

        log('seed %d: training %d samples' % (seed, settings.samples))
        start = time.perf_counter()
        result = train_run(
            run_dir,
            settings,
            trainer=trainer,
            progress=False,
            log=log,
            on_validation=on_validation,
        )
        log(
            'seed %d: %s %.4f in %.0f s'
            % (
                seed,
                'stopped at' if result['interrupted'] else 'final',
                result['val_accuracy'],
                time.perf_counter() - start,
            )
        )
        if result['interrupted']:
            raise KeyboardInterrupt


#: Seconds a stopped worker has to save its run before it is killed.
GRACE_SECONDS = 40


def _worker_env(out_dir, slot):
    """A worker's environment: one thread, a Theano cache of its own."""
    env = dict(os.environ)
    cache = os.path.abspath(
        os.path.join(out_dir, 'theano-cache', 'worker_%d' % slot)
    )
    # Each worker compiles into its own cache: one shared cache's lock
    # would make the others wait for every compilation.  A slot's second
    # seed finds the cache warm.
    flags = env.get('THEANO_FLAGS', '')
    env['THEANO_FLAGS'] = ','.join(
        f for f in (flags, 'base_compiledir=' + cache) if f
    )
    # One core each: N workers on N cores, no BLAS threads fighting.
    for name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        env[name] = '1'
    env['PYTHONUNBUFFERED'] = '1'
    return env


def run_workers(out_dir, seeds, jobs, budget, worker_args, log=print):
    """Each seed in a worker process of its own, at most ``jobs`` at once.

    Parameters
    ----------
    out_dir : str
    seeds : list of int
    jobs : int
    budget : float or None
        Seconds from now after which running workers are stopped (SIGTERM:
        each saves its run, which a later call resumes) and no more start.
    worker_args : list of str
        This script's arguments for one worker, less ``--seeds``.
    log : callable

    Returns
    -------
    dict
        Per seed the exit status of its worker (0: finished), None for a
        seed never started.
    """
    import signal
    import subprocess

    deadline = None if budget is None else time.monotonic() + budget
    logs = os.path.join(out_dir, 'logs')
    os.makedirs(logs, exist_ok=True)
    pending, running, codes = list(seeds), {}, {s: None for s in seeds}
    stopping = None  # when the workers were asked to stop

    def stop(reason):
        log('%s: stopping %d running workers' % (reason, len(running)))
        for proc, _, _, _ in running.values():
            proc.send_signal(signal.SIGTERM)
        return time.monotonic()

    def terminate(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        while pending or running:
            try:
                while stopping is None and pending and len(running) < jobs:
                    slot = min(set(range(jobs)) - set(running))
                    seed = pending.pop(0)
                    out = open(os.path.join(logs, 'seed_%d.log' % seed), 'ab')
                    proc = subprocess.Popen(
                        [sys.executable, __file__, '--worker']
                        + worker_args
                        + ['--seeds', str(seed)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=_worker_env(out_dir, slot),
                    )
                    running[slot] = (proc, seed, time.monotonic(), out)
                    log('seed %d: started (worker %d)' % (seed, slot))
                time.sleep(0.5)
                for slot, (proc, seed, began, out) in list(running.items()):
                    code = proc.poll()
                    if code is None:
                        continue
                    out.close()
                    del running[slot]
                    codes[seed] = code
                    log(
                        'seed %d: %s after %.0f s (worker %d, exit %d)'
                        % (
                            seed,
                            'finished' if code == 0 else 'stopped',
                            time.monotonic() - began,
                            slot,
                            code,
                        )
                    )
                now = time.monotonic()
                if stopping is None and deadline is not None:
                    if now >= deadline:
                        stopping = stop('budget of %.0f s spent' % budget)
                if stopping is not None and now > stopping + GRACE_SECONDS:
                    for proc, seed, _, _ in running.values():
                        log('seed %d: killed (did not stop in time)' % seed)
                        proc.kill()
            except KeyboardInterrupt:
                if stopping is not None:
                    raise
                stopping = stop('interrupted')
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc, _, _, out in running.values():
            proc.kill()
            proc.wait()
            out.close()
    if pending:
        log(
            'not started: seeds %s (the same command resumes)'
            % ' '.join(map(str, pending))
        )
    return codes


class NotTheSameRun(Exception):
    """A study run is not the beginning of the full run given for it."""


def _full_run(full_runs, seed, history):
    """The history of seed's full run under ``full_runs``, checked to begin
    with the study run's validations (the same seed and recipe give the
    same curve, point for point)."""
    from seq2seq_lasagne import plateau
    from seq2seq_lasagne.experiment import load_metrics

    run_dir = _run_dir(full_runs, seed)
    full = load_metrics(run_dir)
    if not _finished(full, _settings(seed)):
        raise NotTheSameRun('%s: no finished run of the notebook' % run_dir)
    if not plateau.begins_as(full['history'], history):
        raise NotTheSameRun(
            '%s: its validations differ from the study run of seed %d'
            % (run_dir, seed)
        )
    return full


def gather(
    out_dir, seeds, command=None, samples=None, quick=None, full_runs=None
):
    """The curve and diagnostics of every finished run, for ``--json``.

    A run stopped on the way (an interrupted or unfinished one) is left
    out and listed under ``unfinished``.  With ``full_runs`` (a reproduce
    folder of the same seeds at the notebook's settings) the study runs
    may be shorter: each must be the beginning of its full run, whose
    curve, exit and final accuracy are then the ones recorded (the
    diagnostics cover the study run's samples).
    """
    from seq2seq_lasagne import plateau
    from seq2seq_lasagne.experiment import load_metrics
    from seq2seq_lasagne.reporting import provenance
    from seq2seq_lasagne.settings import PLATEAU_LEVEL, PLATEAU_SAMPLES

    runs, unfinished = {}, []
    for seed in seeds:
        run_dir = _run_dir(out_dir, seed)
        metrics = load_metrics(run_dir)
        found = _read(os.path.join(run_dir, 'diagnostics.json'))
        if not _finished(metrics, _settings(seed, samples, quick)) or not (
            found and found.get('records')
        ):
            unfinished.append(seed)
            continue
        history = metrics['history']
        if full_runs is not None:
            metrics = _full_run(full_runs, seed, history)
            history = metrics['history']
        runs[str(seed)] = {
            'final': metrics['val_accuracy'],
            'exit_samples': plateau.exit_samples(history),
            'curve': [[h['samples'], h['val_accuracy']] for h in history],
            'train_samples_per_second': metrics['train_samples_per_second'],
            'records': [_rounded(r) for r in found['records']],
        }
    settings = _settings(0, samples, quick)
    return {
        'runs': runs,
        'unfinished': unfinished,
        'samples': settings.samples,
        'full_runs': full_runs,
        'val_interval': settings.val_interval,
        'val_size': settings.val_size,
        'level': PLATEAU_LEVEL,
        'after': PLATEAU_SAMPLES,
        'diagnostic_set': {
            'seed': DIAGNOSTIC_SEED,
            'batches': DIAGNOSTIC_BATCHES,
        },
        '_run': provenance(command),
    }


def _rounded(record):
    return {
        k: (round(v, 6) if isinstance(v, float) else v)
        for k, v in record.items()
    }


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise argparse.ArgumentTypeError(
            '%r is not a positive whole number' % text
        )
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog='plateau_study', description=__doc__.splitlines()[0]
    )
    parser.add_argument('--out', required=True, help='runs directory')
    parser.add_argument('--seeds', type=int, nargs='+', required=True)
    parser.add_argument(
        '--samples',
        type=_positive,
        default=None,
        help="samples per run (default: the notebook's)",
    )
    parser.add_argument(
        '--jobs',
        type=_positive,
        default=None,
        help='train the seeds in this many worker processes at once, each '
        'on one thread with a Theano cache of its own under OUT '
        '(default: one after the other in this process)',
    )
    parser.add_argument(
        '--budget',
        type=_positive,
        default=None,
        metavar='SECONDS',
        help='with --jobs: after this long stop the running workers (each '
        'saves its run, the same command resumes it) and start no more; '
        '--json then holds the runs that finished',
    )
    parser.add_argument('--json', help='write every finished run here')
    parser.add_argument(
        '--summary',
        help="also write the finished runs' reproduce summary here "
        "(seq2seq-lasagne reproduce's summary.json, plateau statistics "
        'included)',
    )
    parser.add_argument(
        '--command',
        help='the command to record in the JSON files (default: this one; '
        'a wrapper script gives its own, without local paths)',
    )
    parser.add_argument(
        '--full-runs',
        metavar='DIR',
        help='a reproduce folder holding full runs of the same seeds at '
        "the notebook's settings: with a smaller --samples, the study "
        'diagnoses the beginning of each run and takes its curve, exit and '
        'final accuracy from the full run (checked to begin with the '
        "study run's validations)",
    )
    parser.add_argument(
        '--gather-only',
        action='store_true',
        help='train nothing, only write --json and --summary',
    )
    # Quick checks of this script only (its tests); the study uses the
    # notebook's.
    parser.add_argument(
        '--val-interval', type=_positive, help=argparse.SUPPRESS
    )
    parser.add_argument('--val-size', type=_positive, help=argparse.SUPPRESS)
    parser.add_argument(
        '--worker', action='store_true', help=argparse.SUPPRESS
    )
    return parser


def _check_settings(parser, samples, quick):
    import seq2seq_lasagne  # noqa: F401  (the legacy-stack fixes first)

    try:
        _settings(0, samples, quick)
    except ValueError as exc:
        parser.error(str(exc))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if any(s < 0 for s in args.seeds):
        parser.error('seeds must be >= 0')
    if args.budget is not None and args.jobs is None:
        parser.error('--budget needs --jobs')
    quick = {
        k: v
        for k, v in (
            ('val_interval', args.val_interval),
            ('val_size', args.val_size),
        )
        if v is not None
    }
    parent = args.jobs is not None and not args.worker and not args.gather_only
    if parent:
        # Theano is imported here only to gather, after the workers: from
        # worker 0's cache, warm and free by then (a cache of its own would
        # compile Theano's own modules while the budget runs out).
        os.environ['THEANO_FLAGS'] = _worker_env(args.out, 0)['THEANO_FLAGS']
    else:
        _check_settings(parser, args.samples, quick)

    def log(message):
        print(
            '[%s] %s' % (time.strftime('%H:%M:%S'), message),
            file=sys.stderr,
            flush=True,
        )

    seeds = list(dict.fromkeys(args.seeds))  # each once, in order
    code = 0
    try:
        if args.gather_only:
            pass
        elif args.jobs is None or args.worker:
            study(args.out, seeds, args.samples, log, quick)
        else:
            worker_args = ['--out', args.out]
            for flag, value in (
                ('--samples', args.samples),
                ('--val-interval', args.val_interval),
                ('--val-size', args.val_size),
            ):
                if value is not None:
                    worker_args += [flag, str(value)]
            codes = run_workers(
                args.out, seeds, args.jobs, args.budget, worker_args, log
            )
            code = 0 if all(c == 0 for c in codes.values()) else 1
    except KeyboardInterrupt:
        log('plateau_study: interrupted; run it again to resume')
        code = 130
        if args.worker:
            return code
    if args.worker:
        return code
    _check_settings(parser, args.samples, quick)
    from seq2seq_lasagne.checkpoint import write_json

    command = args.command or ' '.join(
        ['python scripts/plateau_study.py'] + [shlex.quote(a) for a in argv]
    )
    try:
        gathered = gather(
            args.out, seeds, command, args.samples, quick, args.full_runs
        )
    except NotTheSameRun as exc:
        parser.error(str(exc))
    if args.json:
        os.makedirs(os.path.dirname(args.json) or '.', exist_ok=True)
        write_json(args.json, gathered)
        log(
            'wrote %s (%d finished runs%s)'
            % (
                args.json,
                len(gathered['runs']),
                '; unfinished: seeds %s'
                % ' '.join(map(str, gathered['unfinished']))
                if gathered['unfinished']
                else '',
            )
        )
    if args.summary and gathered['runs']:
        from seq2seq_lasagne.reproduce import summarise

        finished = sorted(int(s) for s in gathered['runs'])
        summary, _ = summarise(args.out, ['attention'], finished, command)
        os.makedirs(os.path.dirname(args.summary) or '.', exist_ok=True)
        write_json(args.summary, summary)
        log('wrote %s (%d runs)' % (args.summary, len(finished)))
    return code


if __name__ == '__main__':
    sys.exit(main())
