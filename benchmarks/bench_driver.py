"""The benchmark's driver: runs the workers, collects, summarises.

:class:`Driver` starts one worker process (``bench_worker.py``) per
configuration, with that configuration's Theano flags and environment,
records the load average before and after each, runs the timing phases
``--rounds`` times interleaved (so that a change of load hits every
configuration alike), and computes per-configuration medians over the
rounds and the ratios between configurations (:meth:`Driver.summary`).
``bench_training.py`` is its command line; ``bench_tables.py`` prints the
summary.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_args import marked_result
from bench_config import (
    HERE,
    LEVERS,
    MARK,
    PEERS,
    PEERS_INSTALL,
    ROOT,
    TORCH_VARIANTS,
    XLA_ONE_THREAD,
    projection,
)

WORKER = os.path.join(HERE, 'bench_worker.py')
CHECK = os.path.join(HERE, 'check_equivalence.py')


def _loadavg():
    try:
        with open('/proc/loadavg') as f:
            return ' '.join(f.read().split()[:3])
    except OSError:
        return None


def _uptime():
    try:
        return subprocess.run(
            ['uptime'], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return _loadavg()


class Driver(object):
    """Runs the benchmark's workers and summarises their results.

    Parameters
    ----------
    args : argparse.Namespace
        The command line's options (see ``bench_training.py``).

    Attributes
    ----------
    results : list of dict
        Every worker's result, in the order they ran, with its ``label``,
        ``round``, flags, environment and load averages.
    """

    def __init__(self, args):
        self.args = args
        self.results = []
        self.python = sys.executable
        self.round = None
        self.torch_status = None
        self.peers = []
        self.equivalence = None
        #: Rounds completed so far, and what to call after each.
        self.rounds_done = 0
        self.on_round = None

    def log(self, msg):
        print(msg, flush=True)

    def run_worker(
        self, label, options, flags='', compiledir=None, extra_env=None
    ):
        """Run one worker; returns its JSON dict (or an error dict)."""
        compiledir = compiledir or self.args.compiledir
        theano_flags = 'base_compiledir=' + compiledir
        if flags:
            theano_flags += ',' + flags
        env = dict(os.environ, THEANO_FLAGS=theano_flags)
        env.update(extra_env or {})
        env.setdefault('PYTHONWARNINGS', 'ignore')
        cmd = [self.python, WORKER] + options
        self.log('  %s ...' % label)
        start = time.perf_counter()
        load_before = _loadavg()
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=self.args.timeout,
            )
        except subprocess.TimeoutExpired:
            result = {'error': 'timed out after %d s' % self.args.timeout}
        else:
            result = marked_result(proc, MARK)
        result.update(
            label=label,
            theano_flags=flags,
            round=self.round,
            extra_env=extra_env or {},
            worker_s=time.perf_counter() - start,
            load_before=load_before,
            load_after=_loadavg(),
        )
        self.results.append(result)
        self.log('    -> %s' % self._short(result))
        return result

    @staticmethod
    def _short(r):
        if 'error' in r:
            return (
                'ERROR ' + r['error'].splitlines()[-1][:200]
                if r['error']
                else 'ERROR'
            )
        if r.get('engine') == 'theano-full':
            return 'wall %.0f s, val acc %.3f' % (
                r['measured_wall_s'],
                r['val_accuracy'],
            )
        if 'samples_per_s' not in r:
            return 'compile %.1f s (%.1f s in total)' % (
                r['compile_s'],
                r['worker_s'],
            )
        return '%.0f samples/s, validation %.2f s (load %s)' % (
            r['samples_per_s'],
            r['val_s'],
            r['load_after'],
        )

    def timing_options(self, model):
        a = self.args
        return [
            '--model',
            model,
            '--steps',
            str(a.steps),
            '--warmup',
            str(a.warmup),
            '--repeats',
            str(a.repeats),
            '--val-repeats',
            str(a.val_repeats),
            '--seed',
            str(a.seed),
        ]

    def run(self):
        a = self.args
        self.log('uptime: %s' % _uptime())
        self.log('Theano cache for the timings: %s' % a.compiledir)
        if os.environ.get('THEANO_FLAGS'):
            self.log(
                'note: THEANO_FLAGS=%r from the environment is not '
                'passed to the workers' % os.environ['THEANO_FLAGS']
            )
        self.peers = self._available_peers(a.peers)
        if self.peers and not a.skip_check:
            self.run_equivalence()
        for rnd in range(a.rounds):
            self.round = rnd
            if a.rounds > 1:
                self.log('\n===== round %d of %d' % (rnd + 1, a.rounds))
            self.run_timings(rnd)
            self.rounds_done = rnd + 1
            if self.on_round is not None:
                # What is measured so far is kept if the run is stopped.
                self.on_round()
        self.round = None
        self.run_compile_and_full()
        self.log('\nuptime: %s' % _uptime())

    def _available_peers(self, wanted):
        """The peers whose library imports; a note for the others."""
        notes, ok = [], []
        for peer in wanted:
            package = PEERS[peer][2]
            if self._importable(package):
                ok.append(peer)
            else:
                notes.append(
                    '%s is not installed (peer %s); install the peers with: '
                    '%s' % (package, peer, PEERS_INSTALL)
                )
        self.torch_status = '\n'.join(notes) or None
        for note in notes:
            self.log('note: ' + note)
        return ok

    def run_equivalence(self):
        """Phase 0: every peer must compute what Theano computes."""
        a = self.args
        self.log(
            '\n[0] equivalence with Theano (check_equivalence.py), '
            'before timing: %s' % ', '.join(self.peers)
        )
        fd, path = tempfile.mkstemp(suffix='.json', prefix='bench-equiv-')
        os.close(fd)
        env = dict(os.environ, THEANO_FLAGS='base_compiledir=' + a.compiledir)
        env.setdefault('PYTHONWARNINGS', 'ignore')
        if a.threads == 1:
            env['XLA_FLAGS'] = XLA_ONE_THREAD
        cmd = [
            self.python,
            CHECK,
            '--peers',
            ','.join(self.peers),
            '--models',
            ','.join(a.models),
            '--threads',
            str(a.threads),
            '--json',
            path,
        ]
        start = time.perf_counter()
        # Kept when the check ran but wrote no figures: its stderr says why.
        proc = None
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=a.timeout,
            )
            with open(path) as f:
                self.equivalence = json.load(f)
        except (subprocess.TimeoutExpired, OSError, ValueError) as exc:
            self.equivalence = {'error': str(exc)[-2000:]}
        finally:
            os.unlink(path)
        self.equivalence['seconds'] = time.perf_counter() - start
        if proc is not None:
            self.equivalence['stdout'] = proc.stdout
            if proc.returncode:
                # Why it failed: the check's exit status and last words.
                self.equivalence['exit'] = proc.returncode
                self.equivalence['stderr'] = proc.stderr[-2000:]
                self.log(
                    '  check_equivalence.py exit %d: %s'
                    % (
                        proc.returncode,
                        (proc.stderr.strip().splitlines() or [''])[-1],
                    )
                )
            for line in proc.stdout.splitlines():
                if line.startswith('['):
                    self.log('  ' + line)
        failed = {
            r['peer']
            for r in self.equivalence.get('results', [])
            if not r['ok']
        }
        checked = {r['peer'] for r in self.equivalence.get('results', [])}
        failed |= set(self.peers) - checked
        for peer in sorted(failed):
            self.log(
                '  %s did not pass: it is not timed (see the JSON)' % peer
            )
        self.peers = [p for p in self.peers if p not in failed]

    def _order(self, rnd, items):
        """``items`` rotated by the round, so no configuration always runs
        first after a change of load."""
        k = rnd % len(items) if items else 0
        return items[k:] + items[:k]

    def peer_options(self, model, peer):
        a = self.args
        engine = PEERS[peer][0]
        return self.timing_options(model) + [
            '--engine',
            engine,
            '--threads',
            str(a.threads),
        ]

    def peer_env(self, peer):
        if peer == 'jax' and self.args.threads == 1:
            return {'XLA_FLAGS': XLA_ONE_THREAD}
        return {}

    def run_timings(self, rnd):
        """One round: per model Theano's default and every peer (in an
        order that rotates with the round), then the levers and the eager
        PyTorch variants."""
        a = self.args
        self.log(
            "\n[1] Theano (the package's defaults) and the peers "
            '(%d thread%s each)' % (a.threads, '' if a.threads == 1 else 's')
        )
        for model in a.models:
            for who in self._order(rnd, ['theano'] + self.peers):
                if who == 'theano':
                    self.run_worker(
                        'theano %s default' % model,
                        self.timing_options(model),
                    )
                else:
                    self.run_worker(
                        '%s %s' % (PEERS[who][0], model),
                        self.peer_options(model, who),
                        extra_env=self.peer_env(who),
                    )
        if a.levers:
            self.log('\n[2] levers, each in its own process')
            for name, (flags, env, opts, lever_models, _) in LEVERS.items():
                if name not in a.levers:
                    continue
                for model in a.models:
                    if model in lever_models:
                        self.run_worker(
                            'theano %s %s' % (model, name),
                            self.timing_options(model) + opts,
                            flags,
                            extra_env=env,
                        )
        if 'eager' in self.peers and a.torch_variants:
            self.log('\n[3] eager PyTorch variants')
            for model in a.models:
                for name, (n, env, opts) in TORCH_VARIANTS.items():
                    if name not in a.torch_variants:
                        continue
                    self.run_worker(
                        'torch %s %s' % (model, name),
                        self.timing_options(model)
                        + [
                            '--engine',
                            'torch',
                            '--threads',
                            str(n or a.threads),
                        ]
                        + opts,
                        extra_env=env,
                    )

    def run_compile_and_full(self):
        """Phases 4 and 5: cold/warm compile time, the full run."""
        a = self.args
        models = a.models
        if not a.skip_cold:
            self.log(
                '\n[4] compile time: cold (fresh base_compiledir), then '
                'warm (same directory)'
            )
            for model in models:
                fresh = tempfile.mkdtemp(prefix='bench-compiledir-')
                try:
                    for kind in ('cold', 'warm'):
                        self.run_worker(
                            'theano %s compile %s' % (model, kind),
                            ['--model', model, '--compile-only'],
                            compiledir=fresh,
                        )
                finally:
                    shutil.rmtree(fresh, ignore_errors=True)
        if a.full:
            self.log(
                '\n[5] full attention reproduction (1.5e5 samples, train_run)'
            )
            self.run_worker(
                'theano attention full run',
                [
                    '--engine',
                    'full',
                    '--model',
                    'attention',
                    '--seed',
                    str(a.seed),
                ],
            )

    def _importable(self, package):
        proc = subprocess.run(
            [self.python, '-c', 'import ' + package], capture_output=True
        )
        return proc.returncode == 0

    # ---------------------------------------------------------------- report

    def find(self, label):
        """The result of ``label``; over several rounds, their medians."""
        found = [
            r for r in self.results if r['label'] == label and 'error' not in r
        ]
        if len(found) <= 1:
            return found[0] if found else None
        merged = dict(found[-1])
        for key in (
            'samples_per_s',
            'samples_per_cpu_s',
            'cpu_per_wall',
            'val_s',
            'compile_s',
        ):
            if key in merged:
                values = [r[key] for r in found]
                merged[key] = statistics.median(values)
                merged[key + '_rounds'] = values
        if 'samples_per_s' in merged:
            merged.update(
                projection(
                    merged['model'], merged['samples_per_s'], merged['val_s']
                )
            )
        return merged

    def by_round(self, label):
        """The successful results of ``label``, by round."""
        return {
            r['round']: r
            for r in self.results
            if r['label'] == label and 'error' not in r
        }

    def peer_summary(self, model, peer):
        """Theano against one peer: medians, and the ratio of every round
        (Theano's samples/s over the peer's, from workers of the same
        round) with its median and spread."""
        label = '%s %s' % (PEERS[peer][0], model)
        merged = self.find(label)
        if not merged:
            return None
        theano = self.by_round('theano %s default' % model)
        rows = self.by_round(label)
        rounds = sorted(set(theano) & set(rows), key=lambda r: r or 0)
        out = {
            'name': PEERS[peer][1],
            'engine': PEERS[peer][0],
            'rounds': rounds,
        }
        for key in (
            'samples_per_s',
            'samples_per_cpu_s',
            'cpu_per_wall',
            'val_s',
            'compile_s',
            'n_input_lengths',
            'projected_total_s',
        ):
            out[key] = merged.get(key)
            if key + '_rounds' in merged:
                out[key + '_rounds'] = merged[key + '_rounds']
        for key, name in (
            ('samples_per_s', 'theano_over_peer'),
            ('samples_per_cpu_s', 'theano_over_peer_cpu'),
        ):
            out.update(round_ratios(theano, rows, key, name))
        out['load_rounds'] = [rows[r]['load_after'] for r in rounds]
        out['learns'] = merged['cost_last'] < merged['cost_first']
        for key in ('torch', 'jax'):
            if key in merged:
                out[key] = merged[key]
        return out

    def lever_goals(self, model, lever, peers):
        """A lever's rate against the default's and (issue 14's goals)
        against each peer's, round by round, as :meth:`peer_summary`
        compares the default."""
        rows = self.by_round('theano %s %s' % (model, lever))
        out = round_ratios(
            rows,
            self.by_round('theano %s default' % model),
            'samples_per_s',
            'over_default',
        )
        over_peers = {}
        for peer, p in peers.items():
            ratios = round_ratios(
                rows,
                self.by_round('%s %s' % (PEERS[peer][0], model)),
                'samples_per_s',
                'theano_over_peer',
            )
            if 'theano_over_peer' in ratios:
                over_peers[peer] = dict(
                    ratios, name=p['name'], engine=p.get('engine')
                )
        out['peers'] = over_peers
        out['goals'] = self.goals(over_peers)
        return out

    def goals(self, peers):
        """Issue 14's goals for Theano, from the per-round medians."""
        out = {}
        eager = peers.get('eager')
        if eager and 'theano_over_peer' in eager:
            out['theano_over_eager'] = eager['theano_over_peer']
            out['at_least_1.5x_eager'] = eager['theano_over_peer'] >= 1.5
        compiled = [
            p
            for name, p in peers.items()
            if name != 'eager' and p and 'theano_over_peer' in p
        ]
        if compiled:
            fastest = min(compiled, key=lambda p: p['theano_over_peer'])
            out['fastest_compiled_peer'] = fastest['name']
            out['theano_over_fastest_compiled'] = fastest['theano_over_peer']
            out['at_least_fastest_compiled'] = (
                fastest['theano_over_peer'] >= 1.0
            )
        return out

    def summary(self):
        """Ratios and tables, as a dict (also written to the JSON)."""
        out = {'models': {}, 'threads': self.args.threads}
        if self.equivalence is not None:
            out['equivalence'] = {
                k: v for k, v in self.equivalence.items() if k != 'stdout'
            }
        for model in self.args.models:
            base = self.find('theano %s default' % model)
            m = {'default': base, 'levers': {}, 'torch': None, 'peers': {}}
            for peer in PEERS:
                summary = self.peer_summary(model, peer)
                if summary:
                    m['peers'][peer] = summary
            if base:
                m['theano'] = {
                    k: base.get(k)
                    for k in (
                        'samples_per_s',
                        'samples_per_s_rounds',
                        'samples_per_cpu_s',
                        'samples_per_cpu_s_rounds',
                        'cpu_per_wall',
                        'val_s',
                        'compile_s',
                        'projected_total_s',
                    )
                }
                m['theano']['config'] = base.get('theano')
                m['goals'] = self.goals(m['peers'])
            if base:
                for name, (_, _, _, lever_models, desc) in LEVERS.items():
                    r = self.find('theano %s %s' % (model, name))
                    if r:
                        m['levers'][name] = {
                            'description': desc,
                            'samples_per_s': r['samples_per_s'],
                            'speed_ratio_vs_default': r['samples_per_s']
                            / base['samples_per_s'],
                            'val_s': r['val_s'],
                            'val_ratio_vs_default': r['val_s'] / base['val_s'],
                            'projected_total_s': r['projected_total_s'],
                        }
                        m['levers'][name].update(
                            self.lever_goals(model, name, m['peers'])
                        )
            t = self.find('torch %s' % model)
            if t and base:
                m['torch'] = {
                    'samples_per_s': t['samples_per_s'],
                    'val_s': t['val_s'],
                    'theano_over_torch_samples_per_s': base['samples_per_s']
                    / t['samples_per_s'],
                    'theano_over_torch_val_s': base['val_s'] / t['val_s'],
                    'projected_total_s': t['projected_total_s'],
                }
                m['torch']['num_threads'] = t['torch']['num_threads']
                # Sanity: the PyTorch model learns over the measured steps.
                m['torch']['cost_first'] = t['cost_first']
                m['torch']['cost_last'] = t['cost_last']
                m['torch']['learns'] = t['cost_last'] < t['cost_first']
                m['torch']['variants'] = {}
                for name in TORCH_VARIANTS:
                    tv = self.find('torch %s %s' % (model, name))
                    if tv:
                        m['torch']['variants'][name] = {
                            'samples_per_s': tv['samples_per_s'],
                            'val_s': tv['val_s'],
                            'num_threads': tv['torch']['num_threads'],
                            'extra_env': tv.get('extra_env', {}),
                            'optimizer': tv['torch']['optimizer'],
                            'theano_over_torch_samples_per_s': base[
                                'samples_per_s'
                            ]
                            / tv['samples_per_s'],
                        }
            cold = self.find('theano %s compile cold' % model)
            warm = self.find('theano %s compile warm' % model)
            m['compile'] = {
                'cold_s': cold and cold['compile_s'],
                'warm_s': warm and warm['compile_s'],
                'cold_worker_s': cold and cold['worker_s'],
                'warm_worker_s': warm and warm['worker_s'],
            }
            out['models'][model] = m
        full = self.find('theano attention full run')
        if full:
            base = self.find('theano attention default')
            full = dict(full)
            if base:
                full['projected_total_s'] = base['projected_total_s']
            out['full_run'] = full
        return out

    # ---------------------------------------------------------------- record

    def record(self, started, argv):
        """Everything of the run, as written to the result JSON.

        ``_run`` says how it was made (the command, date, machine, load
        average at the start and the end) for ``scripts/render_docs.py``;
        paths inside the repository are written relative to it, so the
        file names nothing of the machine it ran on.
        """
        info = machine()
        command = ' '.join(
            [
                os.path.relpath(sys.executable, ROOT)
                if sys.executable.startswith(ROOT)
                else os.path.basename(sys.executable)
            ]
            + list(argv)
        )
        loads = [
            [float(v) for v in r[key].split()]
            for r in self.results
            for key in ('load_before', 'load_after')
            if r.get(key)
        ]
        record = {
            '_run': {
                'command': command,
                'date': started.isoformat(timespec='minutes'),
                'machine': '%s, %d CPUs'
                % (info.get('cpu', '?'), info['cpus']),
                'python': info['python'],
                'load_average_before': loads[0] if loads else None,
                'load_average_after': loads[-1] if loads else None,
                'load_1min_range': [
                    min(v[0] for v in loads),
                    max(v[0] for v in loads),
                ]
                if loads
                else None,
            },
            'date': started.isoformat(timespec='seconds'),
            'command': command,
            'machine': info,
            'settings': dict(vars(self.args)),
            'rounds_done': self.rounds_done,
            'summary': self.summary(),
            'workers': self.results,
        }
        return _relative(record)

    def write(self, path, started, argv):
        """Write :meth:`record` to ``path`` (directories made)."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(self.record(started, argv), f, indent=1, default=str)


def round_ratios(rows, others, key, name):
    """``rows``' ``key`` over ``others``' in every round both ran (dicts
    of results by round): ``name + '_rounds'`` and, when there is one, the
    median (``name``), ``name + '_min'`` and ``name + '_max'``."""
    ratios = [
        rows[r][key] / others[r][key]
        for r in sorted(set(rows) & set(others), key=lambda r: r or 0)
        if key in rows[r] and key in others[r]
    ]
    out = {name + '_rounds': ratios}
    if ratios:
        out[name] = statistics.median(ratios)
        out[name + '_min'] = min(ratios)
        out[name + '_max'] = max(ratios)
    return out


def load_average():
    """The load averages over 1, 5 and 15 minutes, as numbers."""
    with open('/proc/loadavg') as f:
        return [float(v) for v in f.read().split()[:3]]


def run_header(started, load_before, load_after):
    """The ``_run`` record of a benchmark script's JSON: its command line
    (repository-relative), date, machine, Python and the load average
    around the measurement."""
    info = machine()
    return {
        'command': ' '.join(
            [
                os.path.relpath(sys.executable, ROOT),
                os.path.relpath(sys.argv[0], ROOT),
            ]
            + sys.argv[1:]
        ),
        'date': started.isoformat(timespec='minutes'),
        'machine': '%s, %d CPUs' % (info.get('cpu', '?'), info['cpus']),
        'python': info['python'],
        'load_average_before': load_before,
        'load_average_after': load_after,
    }


def _relative(value):
    """``value`` with every path under the repository made relative."""
    if isinstance(value, dict):
        return {k: _relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v) for v in value]
    if isinstance(value, str) and ROOT in value:
        return value.replace(ROOT + os.sep, '').replace(ROOT, '.')
    return value


def machine():
    """Platform, Python and CPU of this machine."""
    import platform

    info = {
        'platform': platform.platform(),
        'python': platform.python_version(),
        'cpus': os.cpu_count(),
    }
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return info
