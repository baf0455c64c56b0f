"""Time every step of the course's nbgrader flow for one student's notebook.

    python scripts/time_course.py [--out FILE] [--assignments NAME ...]

In a temporary directory: a copy of ``teaching/`` (the course), an
exchange and a student's home.  For each assignment the instructor
generates and releases it, the student fetches it, answers it (the
source's answers; not timed) and submits it, the instructor collects,
autogrades (first with an empty Theano compile cache, as on a fresh
server, then again as for the next student, with the cache warm),
generates and releases the feedback, and the student fetches it.  Every
step is a real ``nbgrader`` command; its wall time and CPU time (of it and
the kernels it ran) are written to the JSON file, with the score and the
machine and load it ran on.  ``scripts/render_docs.py`` renders the file
into docs/TEACHING.md.
"""

import argparse
import datetime
import json
import os
import platform
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / 'teaching'
COURSE_ID = 'seq2seq-lasagne'
#: nbgrader's exchange names a submission by the account that submits it:
#: the student here is the account this script runs as.
STUDENT = pwd.getpwuid(os.getuid()).pw_name
DEFAULT_OUT = ROOT / 'docs' / 'results' / 'teaching' / 'nbgrader_steps.json'


class ScriptError(Exception):
    """Reported as one line on stderr, exit code 2."""


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _git_commit():
    try:
        return subprocess.run(
            ['git', '-C', str(ROOT), 'rev-parse', 'HEAD'],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


class Flow:
    """The course, exchange and student of one timing run."""

    def __init__(self, tmp):
        tmp = Path(tmp)
        self.course = tmp / 'course'
        self.exchange = tmp / 'exchange'
        self.student = tmp / 'student'
        shutil.copytree(
            str(TEACHING),
            str(self.course),
            ignore=shutil.ignore_patterns(
                '__pycache__',
                'release',
                'submitted',
                'autograded',
                'feedback',
                'gradebook.db',
            ),
        )
        self.exchange.mkdir()
        self.student.mkdir()
        bin_dir = os.path.dirname(sys.executable)
        self.nbgrader = os.path.join(bin_dir, 'nbgrader')
        if not os.path.exists(self.nbgrader):
            raise ScriptError(
                'no nbgrader next to %s: install the teaching extra '
                '(pip install -c constraints.txt -e ".[teaching]")'
                % sys.executable
            )
        env = dict(os.environ)
        # nbgrader runs alembic as a program: the venv's bin goes first.
        env['PATH'] = bin_dir + os.pathsep + env.get('PATH', '')
        # The lab's cells run as nbgrader chooses (the quick mode).
        env.pop('SEQ2SEQ_QUICK', None)
        # An empty Theano compile cache of this run's own.
        flags = env.get('THEANO_FLAGS', '')
        env['THEANO_FLAGS'] = 'base_compiledir=%s%s' % (
            tmp / 'theano',
            ',' + flags if flags else '',
        )
        self.env = env
        self.steps = []

    def run(self, name, who, *args):
        """Run one nbgrader command as the instructor or the student."""
        env = dict(self.env)
        exchange = ['--Exchange.root=%s' % self.exchange]
        if who == 'student':
            cwd = self.student
            env['HOME'] = str(self.student)
            args = args + ('--course=%s' % COURSE_ID,)
        else:
            cwd = self.course
        cpu = _cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.run(
            [self.nbgrader, *args, *exchange],
            cwd=str(cwd),
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
            raise ScriptError(
                'nbgrader %s failed: %s' % (' '.join(args), ' '.join(tail))
            )
        self.steps.append(
            {
                'step': name,
                'by': who,
                'command': 'nbgrader ' + ' '.join(args),
                'wall_seconds': round(wall, 2),
                'cpu_seconds': round(_cpu_seconds() - cpu, 2),
            }
        )
        return proc.stdout + proc.stderr

    def answer(self, assignment):
        """The student's answers: the source's (every exercise right)."""
        sys.path.insert(0, str(self.course))
        from submissions import answered

        name = assignment + '.ipynb'
        fetched = self.student / assignment / name
        nb = answered(fetched, self.course / 'source' / assignment / name)
        import nbformat

        nbformat.write(nb, str(fetched))

    def score(self, assignment):
        from nbgrader.api import Gradebook

        db = 'sqlite:///%s' % (self.course / 'gradebook.db')
        with Gradebook(db) as gb:
            nb = gb.find_submission_notebook(assignment, assignment, STUDENT)
            return {
                'score': nb.score,
                'max_score': nb.max_score,
                'needs_manual_grade': sorted(
                    g.name for g in nb.grades if g.needs_manual_grade
                ),
            }


def time_assignment(flow, assignment):
    first = len(flow.steps)
    flow.run(
        'generate_assignment', 'instructor', 'generate_assignment', assignment
    )
    flow.run(
        'release_assignment', 'instructor', 'release_assignment', assignment
    )
    flow.run('fetch_assignment', 'student', 'fetch_assignment', assignment)
    flow.answer(assignment)
    flow.run('submit', 'student', 'submit', assignment)
    flow.run('collect', 'instructor', 'collect', assignment)
    cold = not any(s['step'].startswith('autograde') for s in flow.steps)
    flow.run(
        'autograde (compile cache %s)' % ('empty' if cold else 'warm'),
        'instructor',
        'autograde',
        assignment,
        '--student=%s' % STUDENT,
    )
    flow.run(
        'autograde again, as for the next student (compile cache warm)',
        'instructor',
        'autograde',
        assignment,
        '--student=%s' % STUDENT,
        '--force',
    )
    flow.run(
        'generate_feedback',
        'instructor',
        'generate_feedback',
        assignment,
        '--student=%s' % STUDENT,
    )
    flow.run(
        'release_feedback',
        'instructor',
        'release_feedback',
        assignment,
        '--student=%s' % STUDENT,
    )
    flow.run('fetch_feedback', 'student', 'fetch_feedback', assignment)
    feedback = list((flow.student / assignment / 'feedback').rglob('*.html'))
    if not feedback:
        raise ScriptError('fetch_feedback brought no feedback HTML')
    return {'steps': flow.steps[first:], 'grade': flow.score(assignment)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=str(DEFAULT_OUT))
    parser.add_argument(
        '--assignments',
        nargs='+',
        default=['01_encoder_decoder', '02_attention_decoder'],
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix='time-course-') as tmp:
            flow = Flow(tmp)
            for assignment in args.assignments:
                if not (TEACHING / 'source' / assignment).is_dir():
                    raise ScriptError(
                        'no assignment %r in teaching/source' % assignment
                    )
                results[assignment] = time_assignment(flow, assignment)
                print(
                    '%s: %s'
                    % (
                        assignment,
                        ', '.join(
                            '%s %.0f s' % (s['step'], s['wall_seconds'])
                            for s in results[assignment]['steps']
                        ),
                    )
                )
    except ScriptError as exc:
        print('time_course: error: %s' % exc, file=sys.stderr)
        return 2
    from importlib.metadata import version

    out = {
        'assignments': results,
        '_run': {
            'command': 'python scripts/time_course.py',
            'date': datetime.datetime.now().isoformat(timespec='minutes'),
            'commit': _git_commit(),
            'machine': '%s, %d CPUs' % (platform.machine(), os.cpu_count()),
            'python': platform.python_version(),
            'nbgrader': version('nbgrader'),
            'theano': version('Theano'),
            'load_average_before': [round(v, 2) for v in load_before],
            'load_average_after': [round(v, 2) for v in os.getloadavg()],
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write('\n')
    print('wrote %s' % args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
