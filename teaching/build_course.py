"""Generate the course's graded notebooks from the lab's notebooks.

    python teaching/build_course.py           # write teaching/source/
    python teaching/build_course.py --check   # exit 1 if it is out of date

The graded notebooks are not edited by hand: each is the lab notebook of
``notebooks/`` with every cell unchanged and in order, followed by the
graded cells of ``teaching/exercises/``.  So the two cannot drift:
``tests/test_teaching.py`` fails when ``teaching/source/`` differs from what
this script makes of the current lab.

An exercise file holds notebook cells in the "percent" format: each line
``# %% [markdown] KIND id=GRADE_ID points=N`` starts a cell (``[markdown]``
for a markdown cell, whose lines are comments; anything before the first
such line is the file's own header).  KIND is one of

``readonly``
    a cell students cannot change (nbgrader restores it when grading);
``answer``
    a markdown answer graded by hand, worth ``points`` (the source holds the
    model answer; the release says "YOUR ANSWER HERE");
``solution``
    code students write: the source holds the solution between ``### BEGIN
    SOLUTION`` and ``### END SOLUTION``, which the release replaces;
``tests``
    an autograded test cell worth ``points``; lines between ``### BEGIN
    HIDDEN TESTS`` and ``### END HIDDEN TESTS`` run only when grading.

A line ``# %% include FILE`` puts the cells of another exercise file there.
"""

import argparse
import filecmp
import re
import shutil
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LAB = ROOT / 'notebooks'
EXERCISES = HERE / 'exercises'
SOURCE = HERE / 'source'

#: Per assignment: its lab notebook, the exercise files appended to it in
#: order, and the lab's files handed out with it.
ASSIGNMENTS = {
    '01_encoder_decoder': {
        'lab': '01_encoder_decoder.ipynb',
        'exercises': [
            'graded_intro.py',
            'written_part1.py',
            'bidirectional_encoder.py',
            'masked_cost.py',
        ],
        'files': ['enc-dec.svg', 'CHANGES.md'],
    },
    '02_attention_decoder': {
        'lab': '02_attention_decoder.ipynb',
        'exercises': [
            'graded_intro.py',
            'written_part2.py',
            'bidirectional_states.py',
            'masked_cost.py',
        ],
        'files': ['CHANGES.md'],
    },
}

KINDS = ('readonly', 'answer', 'solution', 'tests')
HEADER = re.compile(r'# %%(?P<markdown> \[markdown\])?(?P<rest>.*)$')
INCLUDE = re.compile(r'# %% include (?P<file>\S+)$')
#: nbgrader's cell metadata schema (nbgrader 0.9).
SCHEMA_VERSION = 3


class CourseError(Exception):
    """A malformed exercise file; reported as one line."""


def _attributes(text, origin):
    words = text.split()
    kind = words[0] if words and '=' not in words[0] else None
    if kind is not None and kind not in KINDS:
        raise CourseError('%s: unknown cell kind %r' % (origin, kind))
    attrs = {}
    for word in words[1 if kind else 0 :]:
        key, sep, value = word.partition('=')
        if not sep or key not in ('id', 'points'):
            raise CourseError('%s: bad cell attribute %r' % (origin, word))
        attrs[key] = value
    return kind, attrs


def _markdown(lines, origin):
    out = []
    for line in lines:
        if line == '#':
            out.append('')
        elif line.startswith('# '):
            out.append(line[2:])
        elif line.strip():
            raise CourseError(
                '%s: a markdown line is not a comment: %r' % (origin, line)
            )
        else:
            out.append('')
    return out


def _strip_blank(lines):
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def nbgrader_metadata(kind, grade_id, points=None):
    """The ``nbgrader`` cell metadata of a cell of ``kind``."""
    meta = {
        'grade': kind in ('answer', 'tests'),
        'grade_id': grade_id,
        'locked': kind in ('readonly', 'tests'),
        'schema_version': SCHEMA_VERSION,
        'solution': kind in ('answer', 'solution'),
        'task': False,
    }
    if meta['grade']:
        meta['points'] = points
    return meta


def read_exercises(path):
    """The cells of one exercise file, as nbformat cells."""
    origin = path.name
    cells, current = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        include = INCLUDE.match(line)
        if include:
            target = path.parent / include.group('file')
            if not target.is_file() or target == path:
                raise CourseError(
                    '%s:%d: cannot include %s' % (origin, number, target.name)
                )
            cells.append({'include': target})
            current = None
            continue
        match = HEADER.match(line)
        if match:
            current = {
                'markdown': bool(match.group('markdown')),
                'spec': _attributes(
                    match.group('rest'), '%s:%d' % (origin, number)
                ),
                'origin': '%s:%d' % (origin, number),
                'lines': [],
            }
            cells.append(current)
        elif current is not None:
            current['lines'].append(line)
    out = []
    for cell in cells:
        if 'include' in cell:
            out.extend(read_exercises(cell['include']))
            continue
        kind, attrs = cell['spec']
        lines = cell['lines']
        if cell['markdown']:
            lines = _markdown(lines, cell['origin'])
        source = '\n'.join(_strip_blank(lines))
        if cell['markdown']:
            nb_cell = nbformat.v4.new_markdown_cell(source)
        else:
            nb_cell = nbformat.v4.new_code_cell(source)
        if kind is None:
            nb_cell['id'] = 'course-%s-%d' % (path.stem, len(out))
        else:
            if 'id' not in attrs:
                raise CourseError('%s: a %s cell needs an id' % (origin, kind))
            if kind == 'answer' and not cell['markdown']:
                raise CourseError('%s: answers are markdown' % cell['origin'])
            if kind in ('solution', 'tests') and cell['markdown']:
                raise CourseError('%s: %s cells are code' % (origin, kind))
            points = None
            if kind in ('answer', 'tests'):
                try:
                    points = float(attrs['points'])
                except (KeyError, ValueError):
                    raise CourseError(
                        '%s: a %s cell needs points=N' % (cell['origin'], kind)
                    )
                points = int(points) if points.is_integer() else points
            nb_cell['id'] = 'graded-%s' % attrs['id']
            nb_cell.metadata['nbgrader'] = nbgrader_metadata(
                kind, attrs['id'], points
            )
        out.append(nb_cell)
    return out


def graded_notebook(assignment, lab_dir=LAB, exercises_dir=EXERCISES):
    """The graded notebook of ``assignment``: the lab's cells, then the
    exercise cells."""
    spec = ASSIGNMENTS[assignment]
    nb = nbformat.read(str(Path(lab_dir) / spec['lab']), as_version=4)
    for name in spec['exercises']:
        nb.cells.extend(read_exercises(Path(exercises_dir) / name))
    ids = [
        c.metadata['nbgrader']['grade_id']
        for c in nb.cells
        if 'nbgrader' in c.metadata
    ]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CourseError(
            '%s: duplicate grade ids %s' % (assignment, ', '.join(duplicates))
        )
    nbformat.validate(nb)
    return nb


def build(out_dir=SOURCE, lab_dir=LAB, exercises_dir=EXERCISES):
    """Write every assignment's source folder under ``out_dir``.

    Returns
    -------
    list of Path
        The files written.
    """
    written = []
    for assignment, spec in ASSIGNMENTS.items():
        folder = Path(out_dir) / assignment
        if folder.exists():
            shutil.rmtree(str(folder))
        folder.mkdir(parents=True)
        nb = graded_notebook(assignment, lab_dir, exercises_dir)
        path = folder / (assignment + '.ipynb')
        nbformat.write(nb, str(path))
        written.append(path)
        for name in spec['files']:
            shutil.copyfile(str(Path(lab_dir) / name), str(folder / name))
            written.append(folder / name)
    return written


def stale(generated_dir, committed_dir=SOURCE):
    """Files that differ between two source trees (relative paths)."""
    generated_dir, committed_dir = Path(generated_dir), Path(committed_dir)

    def files(root):
        return {
            p.relative_to(root)
            for p in root.rglob('*')
            if p.is_file() and '.ipynb_checkpoints' not in p.parts
        }

    new, old = files(generated_dir), files(committed_dir)
    differ = sorted(new ^ old)
    for rel in sorted(new & old):
        if not filecmp.cmp(
            str(generated_dir / rel), str(committed_dir / rel), shallow=False
        ):
            differ.append(rel)
    return [str(p) for p in differ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--check',
        action='store_true',
        help='only say whether teaching/source/ is up to date (exit 1)',
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                build(tmp)
                differ = stale(tmp)
            if differ:
                print(
                    'build_course: out of date: %s (run python '
                    'teaching/build_course.py)' % ', '.join(differ),
                    file=sys.stderr,
                )
                return 1
            return 0
        for path in build():
            print('wrote %s' % path.relative_to(ROOT))
    except (CourseError, OSError, nbformat.ValidationError) as exc:
        print('build_course: error: %s' % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
