"""Hostile inputs, damaged files, full disks, concurrent runs and signals.

Each class of docs/RELIABILITY.md: one ``seq2seq-lasagne: error:`` line
and exit 2 for bad input (before anything is compiled), exit 1 with what
was kept for a failure on the way, nothing non-finite accepted or written,
no temporary file left, one writer per run directory, and SIGTERM/SIGHUP
handled like Ctrl-C.  The full-disk and read-only tests mount a small tmpfs
(root, as in CI); the signal tests run the real command.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from seq2seq_lasagne.checkpoint import ParamsError
from seq2seq_lasagne.cli import main
from seq2seq_lasagne.experiment import RunError, train_run
from seq2seq_lasagne.interrupts import StopSignals
from seq2seq_lasagne.runlock import RunDirLocked, RunLock
from seq2seq_lasagne.settings import RunSettings
from seq2seq_lasagne.training import Trainer

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(min_digits=3, max_digits=3, val_size=50, val_interval=100)
SMALL_ARGS = [
    '--min-digits',
    '3',
    '--max-digits',
    '3',
    '--val-size',
    '50',
    '--val-interval',
    '100',
    '--no-progress',
]


def one_error_line(capsys, argv, code=2):
    got = main(list(argv))
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert got == code, (argv, out, err)
    assert len(lines) == 1 and lines[0].startswith('seq2seq-lasagne: error: ')
    assert 'Traceback' not in err
    return lines[0]


@pytest.fixture
def no_compile(monkeypatch):
    """Fail if anything is compiled: bad files are refused before."""

    def compile(self, *a, **k):
        raise AssertionError('compiled before the file was checked')

    monkeypatch.setattr(Trainer, 'compile', compile)


@pytest.fixture(scope='module')
def base_run(tmp_path_factory, short_baseline):
    """A finished 200-sample baseline run with a checkpoint."""
    run = tmp_path_factory.mktemp('base') / 'run'
    train_run(
        str(run),
        RunSettings(samples=200, **SMALL),
        trainer=short_baseline,
        progress=False,
        log=lambda m: None,
    )
    return run


@pytest.fixture
def run_copy(base_run, tmp_path):
    run = tmp_path / 'run'
    shutil.copytree(base_run, run)
    return run


def npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save(path, arrays):
    with open(path, 'wb') as f:
        np.savez(f, **arrays)


def leftovers(run):
    return [p.name for p in Path(run).rglob('*') if '.tmp' in p.name]


# --- numbers --------------------------------------------------------------

OPTIONS = [
    '--samples',
    '--seed',
    '--min-digits',
    '--max-digits',
    '--batch-size',
    '--val-size',
    '--val-interval',
]
BAD_NUMBERS = ['inf', '-inf', 'nan', '1e400', '-5', '1e12', '2.5', 'ten', '']


@pytest.mark.parametrize('option', OPTIONS)
@pytest.mark.parametrize('value', BAD_NUMBERS)
def test_bad_numbers_are_one_line(capsys, tmp_path, no_compile, option, value):
    line = one_error_line(
        capsys,
        ['train', '--out', str(tmp_path / 'r'), option, value],
    )
    assert option.lstrip('-').split('-')[0] in line or repr(value) in line
    assert not (tmp_path / 'r').exists()


@pytest.mark.parametrize('value', ['inf', 'nan', '-1', '1e12', '2.5'])
def test_reproduce_bad_seeds(capsys, tmp_path, no_compile, value):
    one_error_line(
        capsys, ['reproduce', '--out', str(tmp_path), '--seeds', value]
    )


def test_huge_integers_are_not_rounded(capsys, tmp_path):
    line = one_error_line(
        capsys,
        ['train', '--out', str(tmp_path), '--seed', '12345678901234567891'],
    )
    assert '12345678901234567891' in line


# --- damaged parameter, config and checkpoint files ----------------------


def damage_params(run, how):
    path = run / 'params.npz'
    arrays = npz(path)
    first = sorted(arrays)[0]
    if how == 'nan':
        arrays[first].flat[0] = np.nan
    elif how == 'inf':
        arrays = {k: np.full_like(v, np.inf) for k, v in arrays.items()}
    elif how == 'integer':
        arrays = {k: v.astype('int64') for k, v in arrays.items()}
    elif how == 'string':
        arrays = {k: v.astype('U5') for k, v in arrays.items()}
    elif how == 'float64 overflow':
        arrays = {k: np.full(v.shape, 1e300) for k, v in arrays.items()}
    elif how == 'npy renamed':
        with open(path, 'wb') as f:
            np.save(f, arrays[first])
        return
    elif how == 'truncated':
        path.write_bytes(path.read_bytes()[:300])
        return
    elif how == 'object':
        arrays[first] = np.array([None], dtype=object)
    save(path, arrays)


@pytest.mark.parametrize(
    'how, needle',
    [
        ('nan', 'non-finite'),
        ('inf', 'non-finite'),
        ('float64 overflow', 'non-finite'),
        ('integer', 'floating point'),
        ('string', 'only numbers'),
        ('object', 'never pickles'),
        ('npy renamed', 'single .npy'),
        ('truncated', 'not an .npz'),
    ],
)
def test_translate_refuses_damaged_params(
    capsys, run_copy, no_compile, how, needle
):
    damage_params(run_copy, how)
    line = one_error_line(
        capsys, ['translate', '--params', str(run_copy), 'one two']
    )
    assert 'params.npz' in line and needle in line, line


@pytest.mark.parametrize(
    'text, needle',
    [
        ('[' * 100000 + ']' * 100000, 'bytes'),
        ('[' * 5000 + ']' * 5000, 'nested too deeply'),
        (
            '{"model": "baseline", "num_units_enc": 1000000000000, '
            '"num_units_dec": 10, "max_digits": 3}',
            'num_units_enc',
        ),
        (
            '{"model": "baseline", "num_units_enc": NaN, '
            '"num_units_dec": 10, "max_digits": 3}',
            'NaN',
        ),
        ('{"model": "baseline"}', 'num_units_enc'),
        ('[]', 'does not describe a model'),
    ],
)
def test_translate_refuses_damaged_config(
    capsys, run_copy, no_compile, text, needle
):
    (run_copy / 'config.json').write_text(text)
    line = one_error_line(
        capsys, ['translate', '--params', str(run_copy), 'one two']
    )
    assert 'config.json' in line and needle in line, line


def damage_checkpoint(path, how):
    arrays = npz(path)
    shared = sorted(k for k in arrays if k.startswith('shared_'))
    big = max(shared, key=lambda k: arrays[k].size)
    meta = json.loads(bytes(arrays['meta']).decode())
    if how == 'truncated':
        path.write_bytes(path.read_bytes()[:20000])
        return
    if how == 'nan':
        arrays[big].flat[0] = np.nan
    elif how == 'integer':
        arrays = {
            k: v.astype('int32') if k in shared else v
            for k, v in arrays.items()
        }
    elif how == 'wrong shape':
        arrays[big] = arrays[big].ravel()[:3]
    elif how == 'meta missing':
        del arrays['meta']
    elif how == 'meta deep':
        arrays['meta'] = np.frombuffer(b'[' * 10**5 + b']' * 10**5, 'uint8')
    elif how == 'samples string':
        meta['samples_processed'] = '200'
    elif how == 'costs nan':
        meta['costs'] = [float('nan')] * len(meta['costs'])
    elif how == 'rng_keys':
        arrays['rng_keys'] = arrays['rng_keys'][:5]
    if how in ('samples string', 'costs nan'):
        arrays['meta'] = np.frombuffer(json.dumps(meta).encode(), 'uint8')
    save(path, arrays)


@pytest.mark.parametrize(
    'how, needle',
    [
        ('truncated', 'not an .npz'),
        ('integer', 'floating point'),
        ('meta missing', 'meta is missing'),
        ('meta deep', 'nested too deeply'),
        ('samples string', 'samples_processed'),
        ('costs nan', 'NaN'),
        ('rng_keys', 'rng_keys'),
    ],
)
def test_resume_refuses_damaged_checkpoint_before_building(
    capsys, run_copy, monkeypatch, how, needle
):
    import seq2seq_lasagne.experiment as experiment

    def build(*a, **k):
        raise AssertionError('built the model before checking the file')

    monkeypatch.setattr(experiment, 'build_trainer', build)
    damage_checkpoint(run_copy / 'checkpoint.npz', how)
    before = {p.name: p.read_bytes() for p in run_copy.iterdir()}
    line = one_error_line(
        capsys,
        ['train', '--out', str(run_copy), '--samples', '300'] + SMALL_ARGS,
    )
    assert 'checkpoint.npz' in line and needle in line, line
    after = {
        p.name: p.read_bytes() for p in run_copy.iterdir() if p.name != '.lock'
    }
    before.pop('.lock', None)
    assert after == before  # nothing written, nothing left


@pytest.mark.parametrize(
    'how, needle', [('wrong shape', 'has shape'), ('nan', 'non-finite')]
)
def test_resume_refuses_mismatched_values_before_compiling(
    capsys, run_copy, no_compile, how, needle
):
    damage_checkpoint(run_copy / 'checkpoint.npz', how)
    line = one_error_line(
        capsys,
        ['train', '--out', str(run_copy), '--samples', '300'] + SMALL_ARGS,
    )
    assert 'checkpoint.npz' in line and needle in line, line


def test_other_settings_named_in_one_line(capsys, run_copy, no_compile):
    line = one_error_line(
        capsys,
        ['train', '--out', str(run_copy), '--samples', '300', '--seed', '7']
        + SMALL_ARGS,
    )
    assert 'other settings' in line and 'seed 7 here, 0 there' in line


def test_damaged_metrics_in_reproduce(capsys, base_run, tmp_path, no_compile):
    run = tmp_path / 'r' / 'baseline' / 'seed_0'
    shutil.copytree(base_run, run)
    (run / 'metrics.json').write_text('{garbage')
    line = one_error_line(
        capsys,
        ['reproduce', '--out', str(tmp_path / 'r'), '--models', 'baseline']
        + ['--seeds', '0', '--samples', '200', '--no-progress'],
    )
    assert 'metrics.json is corrupt' in line


# --- translate --heatmap ---------------------------------------------------


@pytest.mark.parametrize(
    'name, needle',
    [
        ('nope/x.png', 'does not exist'),
        ('x.xyz', 'unsupported image type .xyz'),
        ('heat', 'no image type'),
        ('folder', 'is a folder'),
        ('new/', 'is a folder'),
    ],
)
def test_heatmap_path_checked_before_loading(
    capsys, tmp_path, no_compile, name, needle
):
    (tmp_path / 'folder').mkdir()
    line = one_error_line(
        capsys,
        ['translate', '--params', str(tmp_path / 'none'), '--heatmap']
        + [os.path.join(str(tmp_path), name), 'one'],
    )
    assert needle in line, line
    assert not list(tmp_path.glob('*.png'))


# --- non-finite cost ------------------------------------------------------


def test_non_finite_cost_stops_keeping_the_last_checkpoint(
    run_copy, short_baseline
):
    path = run_copy / 'checkpoint.npz'
    arrays = npz(path)
    for k, v in arrays.items():
        if k.startswith('shared_') and v.ndim == 2:
            arrays[k] = np.full_like(v, 3e38)
    save(path, arrays)
    before = {p.name: p.read_bytes() for p in run_copy.iterdir()}
    with pytest.raises(RunError, match='cost became .* at 300 samples'):
        train_run(
            str(run_copy),
            RunSettings(samples=1000, **SMALL),
            trainer=short_baseline,
            progress=False,
            log=lambda m: None,
        )
    short_baseline.reset(0)
    after = {p.name: p.read_bytes() for p in run_copy.iterdir()}
    before.pop('.lock'), after.pop('.lock')
    assert after == before  # checkpoint and outputs untouched


# --- write failures on a real (tmpfs) file system --------------------------


@pytest.fixture
def tmpfs(tmp_path):
    target = tmp_path / 'disk'
    target.mkdir()
    res = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', str(target)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('CI runs as root and must mount tmpfs: ' + res.stderr)
        pytest.skip('mounting a tmpfs is not permitted here: ' + res.stderr)
    yield target
    subprocess.run(['umount', '-l', str(target)], capture_output=True)


def fill(disk):
    with open(disk / 'filler', 'wb') as f:
        try:
            while True:
                f.write(b'\0' * 65536)
                f.flush()
        except OSError:
            pass


def test_disk_full_mid_run(tmpfs, base_run, short_baseline, monkeypatch):
    from seq2seq_lasagne import experiment

    run = tmpfs / 'run'
    shutil.copytree(base_run, run)
    kept = {p.name: p.read_bytes() for p in run.iterdir()}
    real_fit = experiment.fit

    def fill_then_fit(*args, **kw):  # the disk fills up as training starts
        fill(tmpfs)
        return real_fit(*args, **kw)

    monkeypatch.setattr(experiment, 'fit', fill_then_fit)
    with pytest.raises(RunError) as info:
        train_run(
            str(run),
            RunSettings(samples=400, **SMALL),
            trainer=short_baseline,
            progress=False,
            log=lambda m: None,
        )
    message = str(info.value)
    assert 'No space left on device' in message
    assert 'checkpoint.npz (200 samples) is the last good state' in message
    assert leftovers(run) == []
    now = {p.name: p.read_bytes() for p in run.iterdir()}
    kept.pop('.lock'), now.pop('.lock')
    assert now == kept  # earlier outputs and the checkpoint intact
    # with room again, the same run resumes from that checkpoint
    monkeypatch.setattr(experiment, 'fit', real_fit)
    (tmpfs / 'filler').unlink()
    metrics = train_run(
        str(run),
        RunSettings(samples=400, **SMALL),
        trainer=short_baseline,
        progress=False,
        log=lambda m: None,
    )
    assert metrics['samples_processed'] == 400


def test_read_only_mid_run(tmpfs, base_run, short_baseline, monkeypatch):
    run = tmpfs / 'run'
    shutil.copytree(base_run, run)
    ckpt = run / 'checkpoint.npz'
    good = ckpt.read_bytes()
    from seq2seq_lasagne import experiment

    real_save = experiment.save_checkpoint
    saves = []

    def save_then_lose_permission(*args, **kw):
        real_save(*args, **kw)
        saves.append(ckpt.read_bytes())
        if len(saves) == 2:  # the file system goes read-only mid-run
            subprocess.run(
                ['mount', '-o', 'remount,ro', str(tmpfs)], check=True
            )

    monkeypatch.setattr(
        experiment, 'save_checkpoint', save_then_lose_permission
    )
    with pytest.raises(RunError, match='Read-only file system') as info:
        train_run(
            str(run),
            RunSettings(samples=1000, **SMALL),
            trainer=short_baseline,
            progress=False,
            log=lambda m: None,
        )
    assert '(400 samples) is the last good state' in str(info.value)
    assert ckpt.read_bytes() == saves[-1] != good
    assert leftovers(run) == []


def test_read_only_out_is_one_line(tmpfs, capsys, no_compile):
    (tmpfs / 'run').mkdir()
    subprocess.run(['mount', '-o', 'remount,ro', str(tmpfs)], check=True)
    line = one_error_line(
        capsys,
        ['train', '--out', str(tmpfs / 'run'), '--samples', '100']
        + SMALL_ARGS,
    )
    assert 'not writable' in line and 'Read-only file system' in line


def test_failed_write_removes_its_temporary_file(tmp_path):
    from seq2seq_lasagne.atomic import WriteError, atomic_write

    target = tmp_path / 'x.json'
    target.write_text('old')
    with pytest.raises(WriteError, match='cannot write'):
        with atomic_write(str(target), 'w') as f:
            f.write('new')
            raise OSError(28, 'No space left on device')
    assert target.read_text() == 'old'
    assert os.listdir(tmp_path) == ['x.json']


# --- the run directory lock ------------------------------------------------

HOLD = (
    'import sys, time; from seq2seq_lasagne.runlock import RunLock; '
    'lock = RunLock(sys.argv[1]).acquire(); print("held", flush=True); '
    'time.sleep(600)'
)


def test_second_run_is_refused_and_a_killed_holder_does_not_block(
    run_copy, short_baseline
):
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD, str(run_copy)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == 'held'
        settings = RunSettings(samples=300, **SMALL)
        with pytest.raises(RunDirLocked, match='pid %d on ' % holder.pid):
            train_run(str(run_copy), settings, trainer=short_baseline)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kernel released the killed holder's lock
    metrics = train_run(
        str(run_copy),
        RunSettings(samples=300, **SMALL),
        trainer=short_baseline,
        progress=False,
        log=lambda m: None,
    )
    assert metrics['samples_processed'] == 300


def test_lock_is_released_after_a_run(tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(RunDirLocked, match='pid %d' % os.getpid()):
            RunLock(str(tmp_path)).acquire()
    with RunLock(str(tmp_path)):
        pass


# --- signals ---------------------------------------------------------------


def test_stop_signals_end_fit_at_a_step_boundary(
    short_baseline, run_copy, monkeypatch
):
    """SIGTERM in the middle of a step: the step completes, then the run
    writes everything, saying where its accuracy was measured."""
    calls = []
    real = type(short_baseline).train_step

    def step(self, *args):
        calls.append(1)
        if len(calls) == 3:  # mid-run, between validations
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, *args)

    settings = RunSettings(samples=5000, **dict(SMALL, val_interval=1000))
    monkeypatch.setattr(Trainer, 'train_step', step)
    metrics = train_run(
        str(run_copy),
        settings,
        trainer=short_baseline,
        progress=False,
        resume=False,
        log=lambda m: None,
    )
    assert metrics['interrupted'] and metrics['stopped_by'] == 'SIGTERM'
    assert metrics['samples_processed'] == 300 == len(calls) * 100
    assert metrics['val_accuracy_samples'] == 300  # validated at the stop
    saved = json.loads((run_copy / 'metrics.json').read_text())
    assert saved['samples_processed'] == 300
    # the handler is gone afterwards
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_second_signal_stops_at_once():
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        assert stop() and stop.name == 'SIGHUP'
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)


def test_stop_signals_outside_the_main_thread_do_nothing():
    seen = []

    def run():
        with StopSignals() as stop:
            seen.append(stop())

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert seen == [False]


def cli_train(run, *extra, samples=1000000):
    """The real command, validating every 1000 samples."""
    return subprocess.Popen(
        [sys.executable, '-m', 'seq2seq_lasagne.cli', 'train', '--out']
        + [str(run), '--samples', str(samples)]
        + SMALL_ARGS
        + ['--val-interval', '1000']
        + list(extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_training(run, proc, mtime):
    ckpt = run / 'checkpoint.npz'
    deadline = time.monotonic() + 300
    while ckpt.stat().st_mtime_ns == mtime:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, 'training did not start'
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGHUP])
def test_signal_on_a_real_training_process(run_copy, sig):
    """What docker stop (SIGTERM) or a closed terminal (SIGHUP) does."""
    mtime = (run_copy / 'checkpoint.npz').stat().st_mtime_ns
    proc = cli_train(run_copy, '--fresh')
    wait_for_training(run_copy, proc, mtime)
    time.sleep(1)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + sig, err
    assert 'Traceback' not in err
    assert 'stopped by %s at ' % signal.Signals(sig).name in err
    metrics = json.loads((run_copy / 'metrics.json').read_text())
    assert metrics['interrupted'] and metrics['stopped_by'] == (
        signal.Signals(sig).name
    )
    assert metrics['samples_processed'] > 1000
    at = metrics['val_accuracy_samples']
    assert (
        'final validation accuracy %.4f at %d samples'
        % (
            metrics['val_accuracy'],
            at,
        )
        in out
    )
    params = npz(run_copy / 'params.npz')
    assert all(np.all(np.isfinite(v)) for v in params.values())
    assert leftovers(run_copy) == []


@pytest.mark.slow
def test_two_real_training_processes_on_one_out(run_copy):
    mtime = (run_copy / 'checkpoint.npz').stat().st_mtime_ns
    first = cli_train(run_copy, '--fresh')
    try:
        wait_for_training(run_copy, first, mtime)
        second = cli_train(run_copy, '--fresh')
        out, err = second.communicate(timeout=300)
        assert second.returncode == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1
        assert 'in use by pid %d' % first.pid in lines[0]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # SIGKILL: the lock goes with the process; a new run resumes
    again = cli_train(run_copy, samples=2000)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert 'resuming' in err


def test_params_error_is_a_value_error():
    assert issubclass(ParamsError, ValueError)
