"""The ``seq2seq-lasagne`` command.

Subcommands: ``train``, ``translate``, ``reproduce``, ``notebooks``,
``doctor`` and ``characters``.  Bad input of any kind (an option, a damaged
or mismatched file, a run directory another run holds) ends with one
``seq2seq-lasagne: error: ...`` line on stderr and exit code 2; a run that
fails on the way (a non-finite cost, a file it cannot write) with one such
line saying what was kept and exit code 1; a run stopped by a signal exits
with 128 + the signal's number after writing its outputs.
"""

import argparse
import contextlib
import math
import os
import shlex
import signal
import sys

from .settings import ENCODERS, MERGES, MODELS, REPRODUCE_SEEDS, RunSettings

PROG = 'seq2seq-lasagne'
EXIT_USAGE = 2
EXIT_FAILED = 1


class UsageError(Exception):
    """Bad input from the user; reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _int(text):
    """A whole number, which may be written as 3e5 (the notebook's style)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number' % text)
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError('%r is not a whole number' % text)
    if abs(value) >= 2**53:  # beyond the integers a float holds exactly
        raise argparse.ArgumentTypeError('%r is too large' % text)
    return int(value)


def _add_run_options(p, samples_help):
    d = RunSettings()
    p.add_argument('--samples', type=_int, default=None, help=samples_help)
    p.add_argument(
        '--min-digits',
        type=_int,
        default=d.min_digits,
        help='shortest target in digits (default %(default)s)',
    )
    p.add_argument(
        '--max-digits',
        type=_int,
        default=d.max_digits,
        help='longest target in digits (default %(default)s)',
    )
    p.add_argument(
        '--batch-size',
        type=_int,
        default=d.batch_size,
        help='samples per Adam step (default %(default)s)',
    )
    p.add_argument(
        '--val-size',
        type=_int,
        default=d.val_size,
        help='validation set size (default %(default)s)',
    )
    p.add_argument(
        '--val-interval',
        type=_int,
        default=d.val_interval,
        help='validate every N samples (default %(default)s)',
    )
    p.add_argument(
        '--encoder',
        choices=ENCODERS,
        default=d.encoder,
        help='gru (the notebook) or bidirectional (exercise 3)',
    )
    p.add_argument(
        '--merge',
        choices=MERGES,
        default=d.merge,
        help='how a bidirectional encoder merges its GRUs',
    )
    p.add_argument(
        '--target-mask',
        action='store_true',
        default=None,
        help='mask padded targets in cost and accuracy (always '
        'on when --min-digits < --max-digits)',
    )
    p.add_argument(
        '--unroll-scan',
        action='store_true',
        help='attention decoder: unroll its steps instead of theano.scan',
    )
    p.add_argument(
        '--fused-attention',
        action='store_true',
        help="attention decoder: its scores and context from the package's "
        'fused ops (faster; equal up to float rounding)',
    )
    p.add_argument(
        '--fused-gru',
        action='store_true',
        help="every GRU's recurrence as one of the package's fused ops "
        '(faster; equal up to float rounding)',
    )
    p.add_argument(
        '--decoder-mask',
        action='store_true',
        help='attention decoder: ignore padded input positions '
        '(the notebook does not)',
    )
    p.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar'
    )


def _add_restarts_option(p):
    p.add_argument(
        '--plateau-restarts',
        type=_int,
        default=RunSettings.plateau_restarts,
        metavar='N',
        help='attention model: start a run still on the plateau after '
        'the measured threshold again from new weights, at most N times '
        "(default %(default)s, the notebook's recipe; docs/PLATEAU.md)",
    )


def make_parser():
    parser = _Parser(
        prog=PROG,
        description='The Theano/Lasagne RNN '
        'encoder-decoder lab: spelled digits to digits.',
    )
    sub = parser.add_subparsers(
        dest='command', metavar='COMMAND', parser_class=_Parser
    )

    p = sub.add_parser('train', help='train one model into --out DIR')
    p.add_argument(
        '--model',
        default=RunSettings.model,
        help='%s (default %%(default)s)' % ' or '.join(MODELS),
    )
    p.add_argument('--seed', type=_int, default=RunSettings.seed)
    p.add_argument('--out', required=True, help='run directory')
    p.add_argument(
        '--fresh',
        action='store_true',
        help='ignore a checkpoint in --out and start again',
    )
    _add_restarts_option(p)
    p.add_argument(
        '--plateau-after',
        type=_int,
        default=None,
        metavar='SAMPLES',
        help='attention model: say so when the run is still on the '
        'plateau after this many samples (default: the threshold measured '
        "at the notebook's settings, docs/PLATEAU.md)",
    )
    _add_run_options(
        p,
        "samples to train on (default: the notebook's, "
        '3e5 baseline, 1.5e5 attention)',
    )

    p = sub.add_parser(
        'translate', help='translate spelled digits with a trained model'
    )
    p.add_argument(
        '--params',
        help='run directory written by train (default: the reference '
        'attention model that comes with the package)',
    )
    p.add_argument('text', nargs='+', help='e.g. "one two five"')
    p.add_argument(
        '--heatmap',
        metavar='PNG',
        help='attention model: save the heatmap of the (first) input here',
    )
    p.add_argument(
        '--show-attention',
        action='store_true',
        help='attention model: print a text heatmap',
    )

    p = sub.add_parser(
        'reproduce',
        help="train both models at the notebook's settings and write a report",
    )
    p.add_argument('--out', required=True)
    p.add_argument(
        '--seeds', type=_int, nargs='+', default=list(REPRODUCE_SEEDS)
    )
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    _add_restarts_option(p)
    p.add_argument(
        '--fused-attention',
        action='store_true',
        help="attention model: the package's fused attention ops (see "
        'train --help)',
    )
    p.add_argument(
        '--fused-gru',
        action='store_true',
        help="both models: the package's fused GRU recurrence (see train "
        '--help)',
    )
    p.add_argument(
        '--samples',
        type=_int,
        default=None,
        help="override the notebook's sample counts (quick checks only)",
    )
    p.add_argument('--no-progress', action='store_true')

    p = sub.add_parser(
        'notebooks',
        help='execute the lab notebooks and '
        'their solutions into --out DIR (with all plots)',
    )
    p.add_argument('--out', required=True)
    p.add_argument(
        '--quick',
        action='store_true',
        help='small sample counts (as SEQ2SEQ_QUICK=1)',
    )
    p.add_argument('names', nargs='*', help='only these notebooks')

    sub.add_parser(
        'doctor',
        help='report the Theano stack and run a tiny '
        'function and one attention training step',
    )
    sub.add_parser('characters', help='print the character table')
    return parser


def _cmd_train(args):
    from .experiment import train_run

    try:
        settings = RunSettings(
            model=args.model,
            samples=args.samples,
            seed=args.seed,
            min_digits=args.min_digits,
            max_digits=args.max_digits,
            batch_size=args.batch_size,
            val_size=args.val_size,
            val_interval=args.val_interval,
            encoder=args.encoder,
            merge=args.merge,
            target_mask=args.target_mask,
            unroll_scan=args.unroll_scan,
            fused_attention=args.fused_attention,
            decoder_mask=args.decoder_mask,
            fused_gru=args.fused_gru,
            plateau_restarts=args.plateau_restarts,
        )
    except ValueError as exc:
        raise UsageError(str(exc))
    if args.plateau_after is not None and args.plateau_after < 1:
        raise UsageError(
            '--plateau-after must be a positive number of samples, got %d'
            % args.plateau_after
        )
    _check_out_dir(args.out)
    with _run_errors('--out %s' % args.out):
        metrics = train_run(
            args.out,
            settings,
            resume=not args.fresh,
            progress=not args.no_progress,
            log=_log,
            plateau_after=args.plateau_after,
        )
    if metrics['val_accuracy_samples'] is None:
        accuracy = 'no validation'
    else:  # where it was measured: not the end when stopped early
        accuracy = 'final validation accuracy %.4f at %d samples' % (
            metrics['val_accuracy'],
            metrics['val_accuracy_samples'],
        )
    print(
        '%s: %d samples, %s (best %.4f); wrote %s'
        % (
            settings.model,
            metrics['samples_processed'],
            accuracy,
            metrics['best_val_accuracy'],
            args.out,
        )
    )
    from .plateau import check

    message = check(settings, metrics['history'], args.plateau_after)
    if message:
        print('plateau: ' + message)
    if not metrics['interrupted']:
        return 0
    return 128 + signal.Signals[metrics['stopped_by']].value


class _Failed(Exception):
    """A run failed on the way; reported as one line, exit code 1."""


@contextlib.contextmanager
def _run_errors(out):
    """Turn a run's errors into one line: bad files and a locked or
    unwritable ``out`` are usage errors, failures on the way exit 1."""
    from .atomic import WriteError
    from .experiment import RunError
    from .runlock import RunDirLocked
    from .validation import ParamsError

    try:
        yield
    except (ParamsError, RunDirLocked) as exc:
        raise UsageError(str(exc))
    except RunError as exc:
        raise _Failed(str(exc))
    except WriteError as exc:  # before the run: its lock file
        raise UsageError('%s is not writable: %s' % (out, exc))


def _log(message):
    """A line on stderr that leaves a progress bar intact."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def _check_out_dir(path):
    """Create the output directory (and its parents) or say why not."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError('--out %s exists and is not a directory' % path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            '--out %s cannot be created: %s' % (path, exc.strerror or exc)
        )


def _check_image_path(path):
    """Say now, before the model is loaded, why ``path`` cannot be written."""
    from .plotting import image_format

    if os.path.isdir(path) or path.endswith(os.sep):
        raise UsageError('--heatmap %s is a folder; give a file name' % path)
    try:
        image_format(path)
    except ValueError as exc:
        raise UsageError('--heatmap %s' % exc)
    folder = os.path.dirname(path) or '.'
    if not os.path.isdir(folder):
        raise UsageError(
            '--heatmap %s: folder %s does not exist' % (path, folder)
        )
    if not os.access(folder, os.W_OK):
        raise UsageError(
            '--heatmap %s: folder %s is not writable' % (path, folder)
        )


def _cmd_translate(args):
    from .checkpoint import ParamsError, read_config
    from .data_generator import parse_spelled

    texts = []
    for text in args.text:
        try:
            texts.append(parse_spelled(text))
        except ValueError as exc:
            raise UsageError(str(exc))
    if args.heatmap is not None:
        _check_image_path(args.heatmap)
    if args.params:
        params = args.params
    else:
        from .reference import reference_dir

        params = str(reference_dir('attention'))
    try:  # what the config says is checked before anything is compiled
        config = read_config(params)
    except ParamsError as exc:
        raise UsageError(str(exc))
    too_long = [d for _, d in texts if len(d) > config['max_digits']]
    if too_long:
        raise UsageError(
            'input has %d digits; this model decodes at most %d'
            % (len(too_long[0]), config['max_digits'])
        )
    wants_attention = args.heatmap is not None or args.show_attention
    if wants_attention and config['model'] != 'attention':
        raise UsageError(
            '--heatmap/--show-attention need an attention '
            'model; %s holds a %s model' % (params, config['model'])
        )
    try:
        from .translator import Translator

        if args.params:
            translator = Translator(params)
        else:
            translator = Translator.reference()
    except ParamsError as exc:
        raise UsageError(str(exc))
    try:
        results = translator.translate_texts([s for s, _ in texts])
    except ValueError as exc:
        raise UsageError(str(exc))
    for result in results:
        print(result['output'])
        if args.show_attention:
            from .plotting import attention_text_heatmap

            print(
                attention_text_heatmap(
                    result['alpha'], result['input'], result['output']
                )
            )
    if args.heatmap is not None:
        from .atomic import WriteError
        from .plotting import attention_figure

        try:
            attention_figure(results[0], args.heatmap)
        except WriteError as exc:
            raise _Failed(str(exc))
    return 0


def _cmd_reproduce(args):
    from .reproduce import reproduce

    for model in args.models:
        for seed in args.seeds:
            try:
                RunSettings(
                    model=model,
                    samples=args.samples,
                    seed=seed,
                    plateau_restarts=(
                        args.plateau_restarts if model == 'attention' else 0
                    ),
                    fused_attention=(
                        args.fused_attention and model == 'attention'
                    ),
                    fused_gru=args.fused_gru,
                )
            except ValueError as exc:
                raise UsageError(str(exc))
    _check_out_dir(args.out)
    with _run_errors('--out %s' % args.out):
        report = reproduce(
            args.out,
            seeds=args.seeds,
            models=args.models,
            samples=args.samples,
            plateau_restarts=args.plateau_restarts,
            fused_attention=args.fused_attention,
            fused_gru=args.fused_gru,
            progress=not args.no_progress,
            log=_log,
            command=_command_line(args),
        )
    print('wrote %s' % report)
    return 0


def _command_line(args):
    """The command as typed, recorded in the result files it writes."""
    return ' '.join([PROG] + [shlex.quote(a) for a in args.argv])


def _cmd_notebooks(args):
    from .notebooks import NotebookExecutionError, execute_notebooks

    _check_out_dir(args.out)
    try:
        written = execute_notebooks(
            args.out,
            quick=args.quick,
            notebooks=args.names or None,
            log=lambda m: print(m, file=sys.stderr),
            command=_command_line(args),
        )
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc))
    except NotebookExecutionError as exc:
        print(
            '%s: error: %s' % (PROG, str(exc).splitlines()[0]), file=sys.stderr
        )
        return 1
    for path in written:
        print(path)
    return 0


def _cmd_doctor(args):
    from .doctor import run_doctor

    return run_doctor()


def _cmd_characters(args):
    from .data_generator import print_valid_characters

    print_valid_characters()
    return 0


def main(argv=None):
    """Entry point of the ``seq2seq-lasagne`` command; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).
    """
    parser = make_parser()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = parser.parse_args(argv)
        args.argv = argv
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        # Importing the package applies the compatibility fixes first.
        import seq2seq_lasagne  # noqa: F401

        handler = globals()['_cmd_' + args.command]
        return handler(args)
    except UsageError as exc:
        print('%s: error: %s' % (PROG, exc), file=sys.stderr)
        return EXIT_USAGE
    except _Failed as exc:
        print('%s: error: %s' % (PROG, exc), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print('%s: interrupted' % PROG, file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
