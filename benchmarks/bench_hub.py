"""A class on one machine, measured: JupyterHub spawning the student image
(docker/hub/jupyterhub_config.py, as deployed: its memory and CPU limits).

- **login to a running server**: the seconds from the login form to the lab
  answering, for a student's first login (a new home volume, filled from
  the image) and after a stop (the volume is there), with the image in
  podman's store and its compile cache;
- **memory of a student's server** at rest (the server, no kernel) and
  while training, from the container's cgroup;
- **the load test**: N students (1, 2, 4, 8 by default) start the same
  short training at the same moment, each in a kernel of their own server
  (``seq2seq-lasagne train --model attention``); per N: samples/s of each
  (from its ``metrics.json``), the servers' memory (the highest sampled
  during the runs), the machine's free memory, failed runs, and the load
  average before and after (the machine may be shared).

One command; writes one JSON file (docs/HUB.md's figures are rendered from
it by scripts/render_docs.py)::

    python benchmarks/bench_hub.py --image localhost/seq2seq-lasagne:student \\
        --out docs/results/hub/hub-measure.json

Needs what tests/test_hub.py needs (scripts/ci_hub.sh installs it): the
``hubtest`` extra, configurable-http-proxy, podman, root.
"""

import argparse
import datetime
import json
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'scripts'))

from class_hub import (  # noqa: E402
    ClassHub,
    HubError,
    Student,
    container_memory,
    podman,
    proxy_command,
    run_all,
)

#: The training each simulated student runs (a kernel's subprocess).
TRAIN_CELL = """\
import json, subprocess, time
begin = time.time()
res = subprocess.run(
    ['seq2seq-lasagne', 'train', '--model', 'attention',
     '--samples', '{samples}', '--val-interval', '{val_interval}',
     '--val-size', '500', '--seed', '0',
     '--no-progress', '--fresh', '--out', '{out}'],
    capture_output=True, text=True)
print(json.dumps({{'rc': res.returncode, 'seconds': time.time() - begin,
                  'stderr': res.stderr[-300:]}}))
"""


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def mem_available():
    for line in Path('/proc/meminfo').read_text().splitlines():
        if line.startswith('MemAvailable:'):
            return int(line.split()[1]) * 1024
    return None


class MemorySampler:
    """The highest memory of some containers and the lowest free memory of
    the machine, sampled every ``interval`` seconds in a thread."""

    def __init__(self, containers, interval=1.0):
        self.containers = list(containers)
        self.interval = interval
        self.rss = {c: 0 for c in self.containers}
        self.usage = {c: 0 for c in self.containers}
        self.min_available = mem_available()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for c in self.containers:
                try:
                    m = container_memory(c)
                except HubError:  # stopped meanwhile
                    continue
                self.rss[c] = max(self.rss[c], m['rss'])
                self.usage[c] = max(self.usage[c], m['usage'])
            avail = mem_available()
            if avail is not None:
                self.min_available = min(self.min_available, avail)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def train_together(hub, students, samples, val_interval, tag):
    """Every student runs the same training at once; one row of the load
    test."""
    containers = [hub.container(s.name) for s in students]
    out = 'runs/%s' % tag
    cell = TRAIN_CELL.format(
        samples=samples, val_interval=val_interval, out=out
    )
    before = loadavg()
    with MemorySampler(containers) as sampler:
        begin = time.monotonic()
        results = run_all([lambda s=s: _run_cell(s, cell) for s in students])
        wall = time.monotonic() - begin
    after = loadavg()
    runs = []
    for student, result in zip(students, results):
        metrics_path = hub.volume_path(student.name) / out / 'metrics.json'
        metrics = (
            json.loads(metrics_path.read_text())
            if metrics_path.exists()
            else {}
        )
        runs.append(
            {
                'student': student.name,
                'rc': result['rc'],
                'seconds': round(result['seconds'], 1),
                'samples': metrics.get('samples_processed'),
                'samples_per_second': metrics.get('train_samples_per_second'),
                'compile_seconds': metrics.get('compile_seconds'),
                'error': result['stderr'] if result['rc'] else None,
            }
        )
    rates = [r['samples_per_second'] for r in runs if r['samples_per_second']]
    return {
        'students': len(students),
        'samples': samples,
        'wall_seconds': round(wall, 1),
        'failed': sum(r['rc'] != 0 for r in runs),
        'samples_per_second_per_student': (
            round(sum(rates) / len(rates), 1) if rates else None
        ),
        'samples_per_second_total': round(sum(rates), 1),
        'rss_bytes': max(sampler.rss.values()),
        'peak_bytes': max(sampler.usage.values()),
        'rss_bytes_total': sum(sampler.rss.values()),
        'min_available_bytes': sampler.min_available,
        'loadavg_before': before,
        'loadavg_after': after,
        'runs': runs,
    }


def _run_cell(student, code):
    nb_kernel = student.api(
        'POST', 'kernels', json={'name': 'python3'}
    )  # a kernel of its own, as a new notebook would start
    from class_hub import Kernel

    kernel = Kernel(
        student._ws(
            'api/kernels/%s/channels?session_id=%s'
            % (nb_kernel['id'], secrets.token_hex(8))
        ),
        student.name,
    )
    try:
        kernel.wait_ready(300)
        reply, outputs = kernel.execute(code, 3600)
    finally:
        kernel.close()
        student.api('DELETE', 'kernels/%s' % nb_kernel['id'])
    if reply.get('status') != 'ok':
        raise HubError('%s: %s' % (student.name, reply.get('evalue')))
    text = ''.join(o.get('text', '') for o in outputs)
    return json.loads(text.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--image', required=True, help='the student image')
    parser.add_argument(
        '--students',
        type=int,
        nargs='+',
        default=[1, 2, 4, 8],
        help="the load test's numbers of students (default 1 2 4 8)",
    )
    parser.add_argument(
        '--samples',
        type=int,
        default=3000,
        help='samples each student trains (default 3000)',
    )
    parser.add_argument('--val-interval', type=int, default=1000)
    parser.add_argument('--out', required=True, help='the JSON file')
    args = parser.parse_args(argv)
    if min(args.students) < 1 or args.samples < args.val_interval:
        parser.error('students must be >= 1 and samples >= --val-interval')
    if proxy_command() is None:
        parser.exit(
            1,
            'bench_hub: error: configurable-http-proxy not found '
            '(scripts/ci_hub.sh installs it)\n',
        )
    if podman('image', 'exists', args.image, check=False).returncode:
        parser.exit(
            1,
            "bench_hub: error: image %s is not in podman's store\n"
            % args.image,
        )

    started = datetime.datetime.now(datetime.timezone.utc)
    most = max(args.students)
    roster = {'s%02d' % i: secrets.token_hex(8) for i in range(1, most + 1)}
    result = {
        '_run': {
            'command': 'python benchmarks/bench_hub.py %s'
            % ' '.join(argv if argv is not None else sys.argv[1:]),
            'date': started.strftime('%Y-%m-%d %H:%M UTC'),
            'machine': '%d CPUs, %.0f GB, %s'
            % (
                os.cpu_count(),
                os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1e9,
                platform.platform(),
            ),
            'python': platform.python_version(),
        },
        'image': args.image,
    }
    with tempfile.TemporaryDirectory(prefix='bench-hub-') as workdir:
        hub = ClassHub(args.image, workdir, roster)
        hub.start()
        try:
            students = {n: Student(hub.url, n, p) for n, p in roster.items()}
            first = students['s01']
            t = time.monotonic()
            first.login()
            first.start()
            new_home = time.monotonic() - t
            time.sleep(10)
            at_rest = container_memory(hub.container('s01'))
            first.stop()
            t = time.monotonic()
            first.login()
            first.start()
            again = time.monotonic() - t
            host = hub.inspect('s01')['HostConfig']
            result['limits'] = {
                'memory_bytes': host['Memory'],
                'cpus': host['CpuQuota'] / host['CpuPeriod'],
            }
            result['login'] = {
                'first_seconds': round(new_home, 1),
                'again_seconds': round(again, 1),
                'loadavg': loadavg(),
            }
            result['memory'] = {
                'at_rest': {
                    'rss_bytes': at_rest['rss'],
                    'usage_bytes': at_rest['usage'],
                },
                'loadavg': loadavg(),
            }
            result['load'] = []
            running = ['s01']
            for n in sorted(args.students):
                arriving = [
                    students['s%02d' % i]
                    for i in range(1, n + 1)
                    if 's%02d' % i not in running
                ]
                if arriving:
                    storm = run_all([lambda s=s: _arrive(s) for s in arriving])
                    running += [s.name for s in arriving]
                else:
                    storm = []
                row = train_together(
                    hub,
                    [students['s%02d' % i] for i in range(1, n + 1)],
                    args.samples,
                    args.val_interval,
                    'load-%d' % n,
                )
                row['arrivals_seconds'] = [round(x, 1) for x in storm]
                result['load'].append(row)
                print(
                    'bench_hub: %d students: %s samples/s each, %d failed, '
                    'load %s'
                    % (
                        n,
                        row['samples_per_second_per_student'],
                        row['failed'],
                        row['loadavg_after'],
                    ),
                    flush=True,
                )
        finally:
            hub.stop()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + '\n')
    print('bench_hub: wrote %s' % out)
    return 0


def _arrive(student):
    t = time.monotonic()
    student.login()
    student.start()
    return time.monotonic() - t


if __name__ == '__main__':
    sys.exit(main())
