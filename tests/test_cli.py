"""The command line: bad input gives one error line and exit code 2."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from seq2seq_lasagne.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(capsys, argv, *needles):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('seq2seq-lasagne: error: ')
    assert 'Traceback' not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope='module')
def trained_dir(tmp_path_factory, short_baseline):
    """A tiny baseline run directory, trained through the CLI code path."""
    from seq2seq_lasagne.experiment import train_run
    from seq2seq_lasagne.settings import RunSettings

    run_dir = str(tmp_path_factory.mktemp('run'))
    train_run(
        run_dir,
        RunSettings(
            samples=500,
            min_digits=3,
            max_digits=3,
            val_size=50,
            val_interval=500,
        ),
        trainer=short_baseline,
        progress=False,
    )
    return run_dir


@pytest.mark.parametrize(
    'argv, needles',
    [
        (
            ['train', '--model', 'transformer', '--out', 'x'],
            ['unknown model', 'transformer'],
        ),
        (['train', '--samples', '-5', '--out', 'x'], ['samples', '-5']),
        (['train', '--samples', 'lots', '--out', 'x'], ['lots']),
        (
            ['train', '--min-digits', '5', '--max-digits', '3', '--out', 'x'],
            ['min-digits', 'max-digits'],
        ),
        (['train', '--batch-size', '0', '--out', 'x'], ['batch-size']),
        (['train', '--val-interval', '150', '--out', 'x'], ['val-interval']),
        (['train', '--encoder', 'cnn', '--out', 'x'], ['encoder']),
        (
            ['train', '--fused-attention', '--out', 'x'],
            ['fused-attention', 'attention model'],
        ),
        (['train'], ['--out']),
        (['bogus'], ['bogus']),
        (['translate', '--params', 'nowhere', 'one'], ['nowhere']),
    ],
)
def test_train_and_usage_errors(capsys, argv, needles):
    assert_usage_error(capsys, argv, *needles)


def test_out_dir_errors_and_creation(capsys, tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    assert_usage_error(
        capsys,
        ['train', '--samples', '0', '--out', str(blocker)],
        'not a directory',
    )
    assert_usage_error(
        capsys,
        ['train', '--samples', '0', '--out', str(blocker / 'sub')],
        'cannot be created',
    )


def test_translate_input_errors(capsys, trained_dir):
    assert_usage_error(
        capsys, ['translate', '--params', trained_dir, '  '], 'empty'
    )
    assert_usage_error(
        capsys,
        ['translate', '--params', trained_dir, 'one twelve'],
        "'twelve'",
    )
    assert_usage_error(
        capsys,
        ['translate', '--params', trained_dir, 'one two three four'],
        'at most 3',
    )
    assert_usage_error(
        capsys,
        ['translate', '--params', trained_dir, '--heatmap', 'x.png', 'one'],
        'attention model',
    )


def test_translate_bad_parameter_files(capsys, trained_dir, tmp_path):
    import shutil

    run = tmp_path / 'run'
    shutil.copytree(trained_dir, run)
    (run / 'params.npz').write_bytes(b'not a zip file')
    assert_usage_error(
        capsys, ['translate', '--params', str(run), 'one'], 'corrupt'
    )
    (run / 'params.npz').unlink()
    assert_usage_error(
        capsys, ['translate', '--params', str(run), 'one'], 'missing'
    )
    shutil.copy(os.path.join(trained_dir, 'params.npz'), run)
    config = json.loads((run / 'config.json').read_text())
    config['num_units_dec'] = 7
    (run / 'config.json').write_text(json.dumps(config))
    assert_usage_error(
        capsys, ['translate', '--params', str(run), 'one'], 'shape'
    )
    config['model'] = 'rnn'
    (run / 'config.json').write_text(json.dumps(config))
    assert_usage_error(
        capsys, ['translate', '--params', str(run), 'one'], 'rnn'
    )
    (run / 'config.json').write_text('{broken')
    assert_usage_error(
        capsys, ['translate', '--params', str(run), 'one'], 'corrupt'
    )


@pytest.mark.slow
def test_translate_prints_decoded_digits(capsys, trained_dir, short_baseline):
    code, out, err = run_cli(
        capsys, 'translate', '--params', trained_dir, 'one two five', 'nine'
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line and set(line) <= set('0123456789#')
        assert '#' not in line[:-1]  # decoding stops at the stop symbol
    # the same as the model's own argmax
    from seq2seq_lasagne.data_generator import decode_prediction, encode_batch

    x, m = encode_batch(['one two five', 'nine'])
    from seq2seq_lasagne.translator import Translator

    output = Translator(trained_dir).trainer.evaluate(x, None, m)['output']
    assert lines == [decode_prediction(r) for r in np.argmax(output, -1)]


def test_characters_command(capsys):
    code, out, _ = run_cli(capsys, 'characters')
    assert code == 0 and out.startswith('Number of valid characters: 27\n')


def test_console_script_reports_errors_without_traceback():
    script = os.path.join(os.path.dirname(sys.executable), 'seq2seq-lasagne')
    proc = subprocess.run(
        [script, 'train', '--samples', '-1', '--out', 'x'],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count('\n') == 0
    assert 'samples' in proc.stderr and 'Traceback' not in proc.stderr


@pytest.mark.parametrize('how', ['console script', 'python -m'])
@pytest.mark.parametrize(
    'flag, named',
    [
        ('floatX=float99', 'floatX'),
        ('base_compiledir={file}/sub', 'compiledir'),
    ],
)
def test_theano_refusing_the_users_flags_is_one_line(
    tmp_path, how, flag, named
):
    # Theano checks THEANO_FLAGS while it is imported, before the command's
    # main() runs.
    (tmp_path / 'file').write_text('')
    if how == 'python -m':
        command = [sys.executable, '-m', 'seq2seq_lasagne']
    else:
        bindir = os.path.dirname(sys.executable)
        command = [os.path.join(bindir, 'seq2seq-lasagne')]
    env = dict(os.environ, THEANO_FLAGS=flag.format(file=tmp_path / 'file'))
    proc = subprocess.run(
        command + ['characters'], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith('seq2seq-lasagne: error: Theano refused')
    assert 'THEANO_FLAGS' in lines[0] and named in lines[0]


def test_importing_with_a_refused_flag_raises_one_clear_exception(tmp_path):
    env = dict(os.environ, THEANO_FLAGS='floatX=float99')
    code = 'import seq2seq_lasagne\n'
    proc = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('seq2seq_lasagne.compat.SettingsRefused: ')
    assert 'float99' in last


@pytest.mark.slow
def test_doctor_reports_stack_and_runs_checks(capsys):
    code, out, err = run_cli(capsys, 'doctor')
    assert code == 0, out + err
    labels = [line.split('  ')[0].strip() for line in out.splitlines()]
    for label in (
        'theano',
        'lasagne',
        'numpy',
        'pygpu (libgpuarray)',
        'backend',
        'compat fixes',
        'device',
        'floatX',
        'blas.ldflags',
        'compiledir',
        'CUDA libraries',
        'tiny function',
        'attention step',
    ):
        assert label in labels, label
    assert 'floatX=float32' in out or 'float32' in out
    assert out.strip().endswith('all checks passed on cpu')


def test_op_placement_of_the_attention_training_function(short_attention):
    """The doctor's op list: on the CPU every op, scan's inner ones
    included, is a host op."""
    from seq2seq_lasagne.doctor import op_placement

    ops = op_placement(short_attention.train_fn)
    assert ops['device'] == [] and ops['transfer'] == []
    # Scan itself, an op of the outer graph, and ops only scan's inner
    # step has (the attention's softmax over the input positions).
    for name in ('Scan', 'Dot22', 'Softmax'):
        assert name in ops['host'], name
