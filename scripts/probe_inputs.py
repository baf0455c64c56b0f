#!/usr/bin/env python3
"""Try hostile inputs and damaged files against the real CLI; count outcomes.

Every case runs ``python -m seq2seq_lasagne.cli ...`` in a fresh process
(the console script's entry point) and is classified as

``handled``
    the expected exit code and exactly one ``seq2seq-lasagne: error: ...``
    line on stderr, no traceback, and the case's own checks pass (no
    temporary file left, nothing non-finite written, earlier outputs
    intact, for signals: outputs written);
``traceback``
    a Python traceback on stderr;
``silent``
    a wrong, silent or lost result: bad input accepted (exit 0), a
    non-finite value written, work lost, a check failed;
``unbounded``
    still running after the case's time limit, or out of memory;
``unclear``
    anything else (e.g. several error lines, another exit code).

Classes: numbers, translate-input, heatmap, params-file, config-file,
checkpoint, metrics-file, write-failure, lock, signals, environment.  All
checkpoint and parameter cases reuse two tiny run directories trained once
at the start.  Needs root (or permission to mount tmpfs) for the full-disk
and read-only cases; elsewhere they fall back to chmod or are reported as
not run.

    python scripts/probe_inputs.py --json docs/results/reliability/probe.json
    python scripts/probe_inputs.py --source OTHER_TREE   # probe another tree
    python scripts/probe_inputs.py --only checkpoint          # one class

Prints one line per case and the counts; exits 0 (the counts are the
result), 2 on a usage error.
"""

import argparse
import contextlib
import datetime
import json
import os
import pickle
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ERROR_PREFIX = 'seq2seq-lasagne: error: '
OUTCOMES = ('handled', 'traceback', 'silent', 'unbounded', 'unclear')
#: Small settings for every run the probe starts (3-digit targets).
SMALL = [
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
MEMORY_LIMIT = 6 * 2**30


class Probe:
    """Runs the CLI of one source tree in child processes."""

    def __init__(self, source, work, timeout):
        self.source = str(source)
        self.work = Path(work)
        self.timeout = timeout
        self.env = dict(os.environ)
        self.env['PYTHONPATH'] = self.source
        self.can_mount = os.geteuid() == 0 and self._try_mount()

    def _try_mount(self):
        target = Path(tempfile.mkdtemp(prefix='mount-', dir=self.work))
        ok = mount_tmpfs(target, '64k')
        if ok:
            umount(target)
        return ok

    def command(self, argv):
        return [sys.executable, '-m', 'seq2seq_lasagne.cli'] + list(argv)

    def start(self, argv, env=None, cwd=None):
        proc = subprocess.Popen(
            self.command(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(self.env, **(env or {})),
            cwd=cwd or str(self.work),
        )
        with contextlib.suppress(OSError):  # it may have ended already
            resource.prlimit(
                proc.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT)
            )
        return proc

    def run(self, argv, env=None, timeout=None):
        """``(returncode or None on time-out, stdout, stderr, seconds)``."""
        start = time.monotonic()
        proc = self.start(argv, env)
        try:
            out, err = proc.communicate(timeout=timeout or self.timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            code = None
        return code, out, err, time.monotonic() - start


def mount_tmpfs(target, size):
    res = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', str(target)],
        capture_output=True,
    )
    return res.returncode == 0


def remount_ro(target, tries=100):
    """Remount read-only; retried while a file is open for writing there
    (the kernel then refuses: busy)."""
    for _ in range(tries):
        res = subprocess.run(
            ['mount', '-o', 'remount,ro', str(target)], capture_output=True
        )
        if res.returncode == 0:
            return True
        time.sleep(0.05)
    return False


def umount(target):
    subprocess.run(['umount', '-l', str(target)], capture_output=True)


#: Theano's notes while it waits for its compile cache, which other
#: processes share: not messages of the command.
THEANO_NOTE = 'INFO (theano.gof.compilelock): '
# What train reports on stderr while it works, before anything fails: its
# progress bar (tqdm redraws), and its status lines (experiment.py's log
# calls).  A run that fails after them ends in its one error line; they are
# not part of that error.
PROGRESS = re.compile(
    r'^\s*\d+%\|.*\| *\d+/\d+ \['
    r'|^resuming \S.* from \d+ samples$'
    r'|^plateau: '
)


def error_lines(err):
    return [
        ln
        for ln in err.splitlines()
        if ln.strip()
        and not ln.startswith(THEANO_NOTE)
        and not PROGRESS.match(ln)
    ]


def classify(code, err, expect_codes, problem=None):
    """One of OUTCOMES and a short reason."""
    if code is None:
        return 'unbounded', 'still running at the time limit'
    if 'MemoryError' in err or code in (-9, 137):
        return 'unbounded', 'out of memory or killed'
    if 'Traceback' in err:
        return 'traceback', error_lines(err)[-1][:160]
    if code == 0 and 0 not in expect_codes:
        return 'silent', 'accepted (exit 0)'
    if problem:
        return 'silent', problem
    lines = error_lines(err)
    if code not in expect_codes:
        return 'unclear', 'exit %s: %s' % (code, (lines or [''])[-1][:160])
    if 0 in expect_codes:
        return 'handled', 'ok'
    if len(lines) == 1 and lines[0].startswith(ERROR_PREFIX):
        return 'handled', lines[0][len(ERROR_PREFIX) :][:160]
    return 'unclear', '%d stderr lines: %s' % (
        len(lines),
        (lines or [''])[-1][:160],
    )


# --- files --------------------------------------------------------------


def leftovers(run_dir):
    """Temporary files left in a run directory."""
    return sorted(p.name for p in Path(run_dir).rglob('*') if '.tmp' in p.name)


def nonfinite_outputs(run_dir):
    """A written params.npz holding NaN or Inf, or unreadable."""
    path = Path(run_dir) / 'params.npz'
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                a = data[name]
                if a.dtype.kind == 'f' and not np.all(np.isfinite(a)):
                    return 'params.npz written with non-finite %s' % name
    except Exception as exc:  # noqa: BLE001  (any failure is a finding)
        return 'params.npz unreadable: %s' % exc
    return None


def digest(path):
    return Path(path).read_bytes() if Path(path).is_file() else None


def npy_bytes(array):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def write_npz_members(path, members, compress=False):
    """An npz whose members are raw bytes (to forge headers)."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, 'w', mode) as zf:
        for name, data in members.items():
            zf.writestr(name + '.npy', data)


def forged_header(shape, dtype='<f4', payload=b'\0' * 64):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (
        dtype,
        tuple(shape),
    )
    header = header.encode('latin1')
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + b' ' * pad + b'\n'
    return (
        b'\x93NUMPY\x01\x00'
        + len(header).to_bytes(2, 'little')
        + (header + payload)
    )


def load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_npz(path, arrays):
    with open(path, 'wb') as f:
        np.savez(f, **arrays)


# --- the cases -----------------------------------------------------------


class Case:
    def __init__(self, cls, name, run, **kw):
        self.cls, self.name, self.run_fn, self.kw = cls, name, run, kw


def simple(probe, case_dir, argv, expect=(2,), check=None, env=None):
    code, out, err, secs = probe.run(argv, env=env)
    problem = check() if check else None
    outcome, why = classify(code, err, expect, problem)
    return outcome, why, secs


def number_cases(probe):
    bad = ['inf', '-inf', 'nan', '1e400', '-5', '1e12', '2.5', 'ten', '']
    options = [
        '--samples',
        '--seed',
        '--min-digits',
        '--max-digits',
        '--batch-size',
        '--val-size',
        '--val-interval',
    ]
    cases = []
    for opt in options:
        for value in bad:

            def run(case_dir, opt=opt, value=value):
                out = str(case_dir / 'run')
                argv = ['train', '--samples', '100'] + SMALL
                argv += [opt, value, '--out', out]
                return simple(
                    probe, case_dir, argv, check=lambda: _bad_run(out)
                )

            cases.append(Case('numbers', 'train %s %r' % (opt, value), run))
    for opt, values in (
        ('--seeds', ['inf', 'nan', '-1', '1e12', '2.5']),
        ('--samples', ['inf', '-1', '1e12']),
    ):
        for value in values:

            def run(case_dir, opt=opt, value=value):
                argv = ['reproduce', '--out', str(case_dir / 'r')]
                argv += ['--models', 'baseline', '--no-progress']
                if opt != '--samples':
                    argv += ['--samples', '100']
                argv += [opt, value]
                return simple(probe, case_dir, argv)

            cases.append(
                Case('numbers', 'reproduce %s %r' % (opt, value), run)
            )
    return cases


def _bad_run(run_dir):
    return nonfinite_outputs(run_dir) or (
        'left %s' % leftovers(run_dir) if leftovers(run_dir) else None
    )


def translate_input_cases(probe, base):
    texts = [
        ('empty text', ['']),
        ('blank text', ['   ']),
        ('unknown word', ['one twelve']),
        ('non-ASCII', ['øne two']),
        ('too many digits', ['one two three four']),
        ('30000 words', ['one ' * 30000]),
    ]
    cases = []
    for name, text in texts:

        def run(case_dir, text=text):
            return simple(
                probe, case_dir, ['translate', '--params', base] + text
            )

        cases.append(Case('translate-input', name, run))

    def params_file(case_dir):
        f = case_dir / 'file'
        f.write_text('x')
        return simple(
            probe, case_dir, ['translate', '--params', str(f), 'one']
        )

    def params_empty(case_dir):
        d = case_dir / 'empty'
        d.mkdir()
        return simple(
            probe, case_dir, ['translate', '--params', str(d), 'one']
        )

    def params_missing(case_dir):
        argv = ['translate', '--params', str(case_dir / 'nope'), 'one']
        return simple(probe, case_dir, argv)

    cases += [
        Case('translate-input', '--params is a file', params_file),
        Case('translate-input', '--params is an empty folder', params_empty),
        Case('translate-input', '--params does not exist', params_missing),
    ]
    return cases


def heatmap_cases(probe, att):
    def case(name, make_path, extra_check=None, ro=False):
        def run(case_dir):
            mounted = None
            if ro:
                mounted = case_dir / 'ro'
                mounted.mkdir()
                if probe.can_mount and mount_tmpfs(mounted, '1m'):
                    remount_ro(mounted)
                else:
                    if os.geteuid() == 0:
                        return 'not run', 'cannot mount tmpfs', 0
                    mounted.chmod(0o555)
                    mounted = None
            path = make_path(case_dir)
            argv = ['translate', '--params', att, '--heatmap', path, 'one two']
            try:
                return simple(
                    probe,
                    case_dir,
                    argv,
                    check=(lambda: extra_check(case_dir))
                    if extra_check
                    else None,
                )
            finally:
                if mounted is not None:
                    umount(mounted)

        return Case('heatmap', name, run)

    def made_png_of_folder(case_dir):
        hits = list(case_dir.glob('*.png'))
        return 'wrote %s' % hits[0].name if hits else None

    def folder(case_dir):
        (case_dir / 'folder').mkdir()
        return str(case_dir / 'folder')

    return [
        case('missing folder', lambda d: str(d / 'nope' / 'x.png')),
        case('unsupported extension', lambda d: str(d / 'x.xyz')),
        case('no extension', lambda d: str(d / 'heat')),
        case('an existing folder', folder, made_png_of_folder),
        case('trailing slash', lambda d: str(d / 'newdir') + '/'),
        case('empty path', lambda d: ''),
        case('read-only folder', lambda d: str(d / 'ro' / 'x.png'), ro=True),
    ]


def _copy_run(src, case_dir):
    run = case_dir / 'run'
    shutil.copytree(src, run)
    return run


def params_cases(probe, base):
    """Damaged params.npz, tried with translate."""
    good = load_npz(Path(base) / 'params.npz')
    first = sorted(good)[0]

    def with_arrays(fn):
        def make(path):
            arrays = {k: v.copy() for k, v in good.items()}
            fn(arrays)
            save_npz(path, arrays)

        return make

    def set_all(fn):
        return with_arrays(
            lambda a: a.update({k: fn(v) for k, v in a.items()})
        )

    def raw(data):
        return lambda path: path.write_bytes(data)

    def truncated(n):
        return lambda path: path.write_bytes(path.read_bytes()[:n])

    def flip_middle(path):
        data = bytearray(path.read_bytes())
        for i in range(len(data) // 3, len(data) // 3 + 40):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))

    def renamed_npy(path):
        with open(path, 'wb') as f:
            np.save(f, good[first])

    def pickled(path):
        path.write_bytes(pickle.dumps(good))

    def object_member(path):
        arrays = dict(good)
        arrays[first] = np.array([{'a': 1}, None], dtype=object)
        with open(path, 'wb') as f:
            np.savez(f, **arrays)

    def forged(shape, dtype='<f4'):
        def make(path):
            members = {k: npy_bytes(v) for k, v in good.items()}
            members[first] = forged_header(shape, dtype)
            write_npz_members(path, members)

        return make

    def malformed_header(path):
        members = {k: npy_bytes(v) for k, v in good.items()}
        members[first] = (
            b'\x93NUMPY\x01\x00\x10\x00{garbage header}' + b'\0' * 8
        )
        write_npz_members(path, members)

    def many_members(path):
        members = {k: npy_bytes(v) for k, v in good.items()}
        for i in range(20000):
            members['extra_%05d' % i] = npy_bytes(np.zeros(1, 'f4'))
        write_npz_members(path, members)

    def bomb(path):
        # one member that inflates to 1 GiB of zeros
        header = forged_header((2**28,), payload=b'')
        with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
            for k, v in good.items():
                if k != first:
                    zf.writestr(k + '.npy', npy_bytes(v))
            with zf.open(first + '.npy', 'w', force_zip64=True) as f:
                f.write(header)
                block = b'\0' * 2**24
                for _ in range(2**30 // 2**24):
                    f.write(block)

    def folder(path):
        path.unlink()
        path.mkdir()

    def dev_zero(path):
        path.unlink()
        path.symlink_to('/dev/zero')

    damages = [
        ('truncated to half', lambda p: truncated(p.stat().st_size // 2)(p)),
        ('truncated to 100 bytes', truncated(100)),
        ('empty file', raw(b'')),
        ('random bytes', raw(np.random.RandomState(0).bytes(4000))),
        ('40 flipped bytes', flip_middle),
        ('a .npy renamed', renamed_npy),
        ('a pickle renamed', pickled),
        ('an object (pickled) member', object_member),
        (
            'one NaN value',
            with_arrays(lambda a: a[first].flat.__setitem__(0, np.nan)),
        ),
        ('all NaN', set_all(lambda v: np.full_like(v, np.nan))),
        ('all +Inf', set_all(lambda v: np.full_like(v, np.inf))),
        ('float64 beyond float32', set_all(lambda v: np.full(v.shape, 1e300))),
        ('integer arrays', set_all(lambda v: v.astype('int64'))),
        ('string arrays', set_all(lambda v: v.astype('U8'))),
        ('bool arrays', set_all(lambda v: v > 0)),
        ('complex arrays', set_all(lambda v: v.astype('complex64'))),
        (
            'wrong shape',
            with_arrays(lambda a: a.update({first: a[first][..., :1]})),
        ),
        ('0-d array', with_arrays(lambda a: a.update({first: np.float32(1)}))),
        ('a parameter missing', with_arrays(lambda a: a.pop(first))),
        (
            'an unexpected name',
            with_arrays(lambda a: a.update(bogus=np.zeros(2, 'f4'))),
        ),
        ('header claims 10^12 values', forged((10**6, 10**6))),
        ('header claims an object dtype', forged((2,), '|O')),
        ('malformed header', malformed_header),
        ('20000 extra members', many_members),
        ('a member inflating to 1 GiB', bomb),
        ('a folder', folder),
        ('a link to /dev/zero', dev_zero),
    ]
    cases = []
    for name, damage in damages:

        def run(case_dir, damage=damage):
            run = _copy_run(base, case_dir)
            damage(run / 'params.npz')
            return simple(
                probe, case_dir, ['translate', '--params', str(run), 'one two']
            )

        cases.append(Case('params-file', name, run))
    return cases


def config_cases(probe, base):
    good = json.loads((Path(base) / 'config.json').read_text())

    def edit(**changes):
        def make(path):
            config = dict(good)
            for k, v in changes.items():
                if v is _DROP:
                    config.pop(k, None)
                else:
                    config[k] = v
            path.write_text(json.dumps(config))

        return make

    def text(data):
        return lambda path: path.write_bytes(
            data if isinstance(data, bytes) else data.encode()
        )

    def folder(path):
        path.unlink()
        path.mkdir()

    def missing(path):
        path.unlink()

    deep = 100000
    damages = [
        ('missing', missing),
        ('empty file', text('')),
        ('not JSON', text('{broken')),
        ('a JSON list', text('[]')),
        ('a JSON string', text('"attention"')),
        (
            'nested 100000 deep (objects)',
            text('{"a":' * deep + '1' + '}' * deep),
        ),
        ('nested 100000 deep (lists)', text('[' * deep + ']' * deep)),
        ('10 MB of spaces', text(' ' * 10**7 + '{}')),
        ('non-UTF-8 bytes', text(b'{"model": "\xff\xfe"}')),
        ('a folder', folder),
        ('unknown model', edit(model='rnn')),
        ('model missing', edit(model=_DROP)),
        ('num_units_enc 10^12', edit(num_units_enc=10**12)),
        ('num_units_dec -1', edit(num_units_dec=-1)),
        ('num_units_enc 1.5', edit(num_units_enc=1.5)),
        ('num_units_enc "10"', edit(num_units_enc='10')),
        ('num_units_enc true', edit(num_units_enc=True)),
        (
            'num_units_enc NaN',
            text(
                json.dumps(good).replace(
                    '"num_units_enc": 10', '"num_units_enc": NaN'
                )
            ),
        ),
        ('max_digits 0', edit(max_digits=0)),
        ('max_digits 10^12', edit(max_digits=10**12)),
        ('encoder cnn', edit(encoder='cnn')),
        ('merge max', edit(merge='max')),
        ('an unknown key', edit(dropout=0.5)),
        ('num_units_enc missing', edit(num_units_enc=_DROP)),
        ('num_units_dec 7 (shapes differ)', edit(num_units_dec=7)),
    ]
    cases = []
    for name, damage in damages:

        def run(case_dir, damage=damage):
            run = _copy_run(base, case_dir)
            damage(run / 'config.json')
            return simple(
                probe, case_dir, ['translate', '--params', str(run), 'one two']
            )

        cases.append(Case('config-file', name, run))
    return cases


_DROP = object()


def checkpoint_cases(probe, base):
    """Damaged or mismatched checkpoint.npz, tried by resuming train."""
    path0 = Path(base) / 'checkpoint.npz'
    good = load_npz(path0)
    meta0 = json.loads(bytes(good['meta']).decode())
    shared = sorted(k for k in good if k.startswith('shared_'))
    big = max(shared, key=lambda k: good[k].size)

    def arrays_edit(fn):
        def make(path):
            arrays = {k: v.copy() for k, v in good.items()}
            fn(arrays)
            save_npz(path, arrays)

        return make

    def shared_all(fn):
        return arrays_edit(lambda a: a.update({k: fn(a[k]) for k in shared}))

    def meta_bytes(data):
        return arrays_edit(
            lambda a: a.update(meta=np.frombuffer(data, dtype='uint8'))
        )

    def meta_edit(**changes):
        meta = dict(meta0)
        for k, v in changes.items():
            if v is _DROP:
                meta.pop(k, None)
            else:
                meta[k] = v
        return meta_bytes(json.dumps(meta).encode())

    def raw(data):
        return lambda path: path.write_bytes(data)

    def truncated(n):
        return lambda path: path.write_bytes(path.read_bytes()[:n])

    def renamed_npy(path):
        with open(path, 'wb') as f:
            np.save(f, good[big])

    def object_member(path):
        arrays = dict(good)
        arrays[big] = np.array([None, 1], dtype=object)
        with open(path, 'wb') as f:
            np.savez(f, **arrays)

    def forged(name, shape, dtype='<f4'):
        def make(path):
            members = {k: npy_bytes(v) for k, v in good.items()}
            members[name] = forged_header(shape, dtype)
            write_npz_members(path, members)

        return make

    deep = 100000
    damages = [
        ('truncated to 20000 bytes', truncated(20000)),
        ('truncated to half', lambda p: truncated(p.stat().st_size // 2)(p)),
        ('empty file', raw(b'')),
        ('random bytes', raw(np.random.RandomState(1).bytes(30000))),
        ('a .npy renamed', renamed_npy),
        ('a pickle renamed', raw(pickle.dumps(meta0))),
        ('an object (pickled) member', object_member),
        ('meta missing', arrays_edit(lambda a: a.pop('meta'))),
        ('meta not JSON', meta_bytes(b'{not json')),
        ('meta a JSON list', meta_bytes(b'[1, 2]')),
        ('meta nested 100000 deep', meta_bytes(b'[' * deep + b']' * deep)),
        ('meta non-UTF-8', meta_bytes(b'\xff\xfe\xfd')),
        ('meta without rng', meta_edit(rng=_DROP)),
        ('meta rng malformed', meta_edit(rng=['MT19937', 'x'])),
        ('meta history not a list', meta_edit(history=5)),
        (
            'meta samples_processed a string',
            meta_edit(samples_processed='200'),
        ),
        ('meta samples_processed -100', meta_edit(samples_processed=-100)),
        ('meta samples_processed 10^15', meta_edit(samples_processed=10**15)),
        (
            'meta costs with NaN',
            meta_edit(costs=[float('nan')] * len(meta0['costs'])),
        ),
        ('rng_keys missing', arrays_edit(lambda a: a.pop('rng_keys'))),
        (
            'rng_keys wrong shape',
            arrays_edit(lambda a: a.update(rng_keys=a['rng_keys'][:10])),
        ),
        (
            'rng_keys float',
            arrays_edit(
                lambda a: a.update(rng_keys=a['rng_keys'].astype('f8'))
            ),
        ),
        (
            'one NaN value',
            arrays_edit(lambda a: a[big].flat.__setitem__(0, np.nan)),
        ),
        ('all NaN', shared_all(lambda v: np.full_like(v, np.nan))),
        ('all -Inf', shared_all(lambda v: np.full_like(v, -np.inf))),
        ('integer arrays', shared_all(lambda v: v.astype('int32'))),
        ('string arrays', shared_all(lambda v: v.astype('U4'))),
        (
            'wrong shape',
            arrays_edit(lambda a: a.update({big: a[big].ravel()[:3]})),
        ),
        (
            'a training variable missing',
            arrays_edit(lambda a: a.pop(shared[-1])),
        ),
        (
            'an extra training variable',
            arrays_edit(lambda a: a.update(shared_9999=np.zeros(3, 'f4'))),
        ),
        (
            'an unexpected name',
            arrays_edit(lambda a: a.update(bogus=np.zeros(3, 'f4'))),
        ),
        ('header claims 10^12 values', forged(big, (10**6, 10**6))),
        ('meta header claims 10^12 bytes', forged('meta', (10**12,), '|u1')),
    ]
    cases = []
    argv_tail = ['--samples', '300'] + SMALL
    for name, damage in damages:

        def run(case_dir, damage=damage):
            run = _copy_run(base, case_dir)
            damage(run / 'checkpoint.npz')
            before = digest(run / 'params.npz')

            def check():
                if digest(run / 'params.npz') != before and nonfinite_outputs(
                    run
                ):
                    return nonfinite_outputs(run)
                left = leftovers(run)
                return 'left %s' % left if left else None

            argv = ['train', '--out', str(run)] + argv_tail
            return simple(probe, case_dir, argv, check=check)

        cases.append(Case('checkpoint', name, run))

    def other_settings(case_dir):
        run = _copy_run(base, case_dir)
        argv = ['train', '--out', str(run), '--seed', '1'] + argv_tail
        return simple(probe, case_dir, argv)

    def huge_weights(case_dir):
        # finite weights so large that the cost overflows: training must
        # stop at the first non-finite cost and write nothing non-finite
        run = _copy_run(base, case_dir)
        arrays = {k: v.copy() for k, v in good.items()}
        for k in shared:
            if arrays[k].ndim == 2:
                arrays[k][...] = 3e38
        save_npz(run / 'checkpoint.npz', arrays)
        before = digest(run / 'checkpoint.npz')

        def check():
            if digest(run / 'checkpoint.npz') != before:
                return 'checkpoint.npz was overwritten'
            return _bad_run(run)

        argv = ['train', '--out', str(run)] + argv_tail
        return simple(probe, case_dir, argv, expect=(1,), check=check)

    cases += [
        Case('checkpoint', 'saved with other settings', other_settings),
        Case('checkpoint', 'weights overflowing the cost', huge_weights),
    ]
    return cases


def metrics_cases(probe, base):
    damages = [
        ('garbage', b'{garbage'),
        ('nested 100000 deep', b'[' * 100000 + b']' * 100000),
        ('a JSON list', b'[1]'),
    ]
    cases = []
    for name, data in damages:

        def run(case_dir, data=data):
            out = case_dir / 'r'
            shutil.copytree(base, out / 'baseline' / 'seed_0')
            (out / 'baseline' / 'seed_0' / 'metrics.json').write_bytes(data)
            argv = ['reproduce', '--out', str(out), '--models', 'baseline']
            argv += ['--seeds', '0', '--samples', '200', '--no-progress']
            return simple(probe, case_dir, argv)

        cases.append(
            Case('metrics-file', 'reproduce, metrics.json ' + name, run)
        )
    return cases


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _changed(path, mtime):
    return lambda: path.exists() and path.stat().st_mtime_ns != mtime


def _finish(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err


def _long_train(probe, run, extra=()):
    argv = ['train', '--out', str(run), '--samples', '1000000'] + SMALL
    return probe.start(argv + list(extra))


def write_cases(probe, base):
    def out_is_file(case_dir):
        f = case_dir / 'file'
        f.write_text('x')
        argv = ['train', '--samples', '100'] + SMALL + ['--out', str(f)]
        return simple(probe, case_dir, argv)

    def under_file(case_dir):
        f = case_dir / 'file'
        f.write_text('x')
        argv = ['train', '--samples', '100'] + SMALL
        return simple(probe, case_dir, argv + ['--out', str(f / 'sub')])

    def read_only(case_dir):
        target = case_dir / 'ro'
        target.mkdir()
        if not (probe.can_mount and mount_tmpfs(target, '1m')):
            if os.geteuid() == 0:
                return 'not run', 'cannot mount tmpfs', 0
            target.chmod(0o555)
        else:
            (target / 'run').mkdir()
            remount_ro(target)
        try:
            argv = ['train', '--samples', '100'] + SMALL
            argv += ['--out', str(target / 'run')]
            return simple(probe, case_dir, argv)
        finally:
            umount(target)

    def params_is_folder(case_dir):
        run = _copy_run(base, case_dir)
        (run / 'params.npz').unlink()
        (run / 'params.npz').mkdir()
        argv = ['train', '--out', str(run), '--samples', '300'] + SMALL
        return simple(
            probe,
            case_dir,
            argv,
            expect=(1, 2),
            check=lambda: (
                'left %s' % leftovers(run) if leftovers(run) else None
            ),
        )

    def mid_run(kind):
        def run_case(case_dir):
            target = case_dir / 'disk'
            target.mkdir()
            if not (probe.can_mount and mount_tmpfs(target, '16m')):
                return 'not run', 'cannot mount tmpfs', 0
            try:
                run = target / 'run'
                shutil.copytree(base, run)
                kept = {
                    n: digest(run / n) for n in ('params.npz', 'metrics.json')
                }
                ckpt = run / 'checkpoint.npz'
                proc = _long_train(probe, run)
                if not _wait_for(_changed(ckpt, ckpt.stat().st_mtime_ns), 300):
                    proc.kill()
                    proc.communicate()
                    return 'unclear', 'training did not start', 0
                if kind == 'full':
                    with open(target / 'filler', 'wb') as f:
                        try:
                            while True:
                                f.write(b'\0' * 65536)
                                f.flush()
                        except OSError:
                            pass
                else:
                    remount_ro(target)
                code, out, err = _finish(proc, 120)
                problems = []
                try:
                    load_npz(ckpt)
                except Exception as exc:  # noqa: BLE001
                    problems.append('checkpoint unreadable: %s' % exc)
                if leftovers(run):
                    problems.append('left %s' % leftovers(run))
                for n, data in kept.items():
                    if digest(run / n) != data:
                        problems.append('%s changed' % n)
                outcome, why = classify(
                    code, err, (1,), '; '.join(problems) or None
                )
                return outcome, why, 0
            finally:
                umount(target)

        return run_case

    return [
        Case('write-failure', '--out is a file', out_is_file),
        Case('write-failure', '--out under a file', under_file),
        Case('write-failure', 'read-only --out', read_only),
        Case('write-failure', 'params.npz is a folder', params_is_folder),
        Case('write-failure', 'disk full mid-run', mid_run('full')),
        Case('write-failure', 'file system read-only mid-run', mid_run('ro')),
    ]


def lock_cases(probe, base):
    def two_runs(case_dir):
        run = _copy_run(base, case_dir)
        ckpt = run / 'checkpoint.npz'
        first = _long_train(probe, run)
        try:
            if not _wait_for(_changed(ckpt, ckpt.stat().st_mtime_ns), 300):
                return 'unclear', 'first run did not start', 0
            code, out, err, secs = probe.run(
                ['train', '--out', str(run), '--samples', '1000000'] + SMALL,
                timeout=60,
            )
            problem = None
            if code == 2 and str(first.pid) not in err:
                problem = 'the error does not name the holder (pid %d)' % (
                    first.pid
                )
            if code is None:
                return 'silent', 'second run trains on the same --out', secs
            return classify(code, err, (2,), problem) + (secs,)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate()

    def stale(case_dir):
        run = _copy_run(base, case_dir)
        ckpt = run / 'checkpoint.npz'
        first = _long_train(probe, run)
        if not _wait_for(_changed(ckpt, ckpt.stat().st_mtime_ns), 300):
            first.kill()
            first.communicate()
            return 'unclear', 'first run did not start', 0
        first.send_signal(signal.SIGKILL)
        first.communicate()
        left = leftovers(run)
        for name in left:  # SIGKILL mid-write may leave one; not this case
            (run / name).unlink()
        argv = ['train', '--out', str(run), '--samples', '100'] + SMALL
        # It resumes and compiles: minutes on a busy machine.
        code, out, err, secs = probe.run(argv, timeout=300)
        return classify(code, err, (0,)) + (secs,)

    return [
        Case('lock', 'two runs on one --out', two_runs),
        Case('lock', 'after SIGKILL of the holder', stale),
    ]


def signal_cases(probe, base):
    def case(sig):
        def run_case(case_dir):
            run = _copy_run(base, case_dir)
            ckpt = run / 'checkpoint.npz'
            mtimes = {
                n: (run / n).stat().st_mtime_ns
                for n in ('params.npz', 'metrics.json')
            }
            # validation every 1000 samples: the signal lands between
            proc = _long_train(
                probe, run, ['--val-interval', '1000', '--fresh']
            )
            if not _wait_for(_changed(ckpt, ckpt.stat().st_mtime_ns), 300):
                proc.kill()
                proc.communicate()
                return 'unclear', 'training did not start', 0
            time.sleep(0.5)
            proc.send_signal(sig)
            code, out, err = _finish(proc, 120)
            if code is None:
                return 'unbounded', 'did not stop', 0
            problems = []
            for n, before in mtimes.items():
                if (run / n).stat().st_mtime_ns == before:
                    problems.append('%s not written' % n)
            if not problems:
                m = json.loads((run / 'metrics.json').read_text())
                if not m.get('interrupted'):
                    problems.append('metrics.json says not interrupted')
                if 'at %s samples' % m.get('val_accuracy_samples') not in out:
                    problems.append('summary does not say where measured')
            if 'Traceback' in err:
                return 'traceback', error_lines(err)[-1][:160], 0
            if problems:
                return 'silent', '; '.join(problems), 0
            if code != 128 + sig:
                return 'unclear', 'exit %s' % code, 0
            return 'handled', out.strip().splitlines()[-1][:160], 0

        return Case('signals', signal.Signals(sig).name, run_case)

    return [case(signal.SIGTERM), case(signal.SIGHUP), case(signal.SIGINT)]


def environment_cases(probe):
    def flags(case_dir):
        return simple(
            probe,
            case_dir,
            ['characters'],
            env={'THEANO_FLAGS': 'floatX=float99'},
        )

    def compiledir(case_dir):
        blocker = case_dir / 'file'
        blocker.write_text('x')
        return simple(
            probe,
            case_dir,
            ['characters'],
            env={'THEANO_FLAGS': 'base_compiledir=%s/sub' % blocker},
        )

    return [
        Case('environment', 'THEANO_FLAGS floatX=float99', flags),
        Case(
            'environment', 'THEANO_FLAGS compiledir under a file', compiledir
        ),
    ]


# --- main ----------------------------------------------------------------


def train_base(probe, run, model):
    argv = ['train', '--model', model, '--samples', '200'] + SMALL
    code, out, err, _ = probe.run(argv + ['--out', str(run)], timeout=3600)
    if code != 0:
        raise SystemExit(
            'probe_inputs: error: could not train the base %s run: %s'
            % (model, error_lines(err)[-3:] or code)
        )
    return str(run)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', help='write the results here')
    parser.add_argument(
        '--source', default=str(ROOT), help='tree whose package is probed'
    )
    parser.add_argument('--only', help='only cases of this class')
    parser.add_argument(
        '--label',
        help='what the probed tree is (recorded, e.g. "main at b9ea26a")',
    )
    parser.add_argument(
        '--timeout', type=float, default=600, help='seconds per case'
    )
    parser.add_argument(
        '--jobs', type=int, default=3, help='cases run at once'
    )
    args = parser.parse_args(argv)
    if not (Path(args.source) / 'seq2seq_lasagne' / 'cli.py').is_file():
        print(
            'probe_inputs: error: %s holds no seq2seq_lasagne' % args.source,
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='s2s-probe-') as work:
        work = Path(work)
        probe = Probe(args.source, work, args.timeout)
        base = train_base(probe, work / 'base', 'baseline')
        att = train_base(probe, work / 'att', 'attention')
        cases = (
            number_cases(probe)
            + translate_input_cases(probe, base)
            + heatmap_cases(probe, att)
            + params_cases(probe, base)
            + config_cases(probe, base)
            + checkpoint_cases(probe, base)
            + metrics_cases(probe, base)
            + write_cases(probe, base)
            + lock_cases(probe, base)
            + signal_cases(probe, base)
            + environment_cases(probe)
        )
        if args.only:
            cases = [c for c in cases if c.cls == args.only]
        results = [None] * len(cases)

        def run_case(i):
            case = cases[i]
            case_dir = work / ('case_%03d' % i)
            case_dir.mkdir()
            try:
                outcome, why, secs = case.run_fn(case_dir)
            except Exception as exc:  # noqa: BLE001  (a probe bug, reported)
                outcome, why, secs = 'unclear', 'probe failed: %r' % exc, 0
            results[i] = {
                'class': case.cls,
                'case': case.name,
                'outcome': outcome,
                'detail': why,
                'seconds': round(secs, 1),
            }
            print(
                '%-15s %-42s %-9s %s'
                % (case.cls, case.name[:42], outcome, why),
                flush=True,
            )
            shutil.rmtree(case_dir, ignore_errors=True)

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(run_case, range(len(cases))))
    counts = {o: sum(r['outcome'] == o for r in results) for o in OUTCOMES}
    counts['not run'] = sum(r['outcome'] == 'not run' for r in results)
    by_class = {}
    for r in results:
        entry = by_class.setdefault(r['class'], dict.fromkeys(OUTCOMES, 0))
        entry[r['outcome']] = entry.get(r['outcome'], 0) + 1
    print(
        'tried %d: %s'
        % (len(results), ', '.join('%s %d' % kv for kv in counts.items()))
    )
    if args.json:
        other = Path(args.source).resolve() != ROOT
        report = {
            'tried': len(results),
            'counts': counts,
            'by_class': by_class,
            'cases': results,
            '_run': {
                'command': ' '.join(
                    ['python scripts/probe_inputs.py']
                    + (['--source TREE'] if other else [])
                    + (['--only', args.only] if args.only else [])
                    + ['--json', args.json]
                ),
                'date': datetime.datetime.now().isoformat(timespec='minutes'),
                'python': platform.python_version(),
                'machine': '%s, %d CPUs'
                % (platform.machine(), os.cpu_count()),
                'root': os.geteuid() == 0,
                'source': args.label,
                'seconds': round(time.monotonic() - started),
            },
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
