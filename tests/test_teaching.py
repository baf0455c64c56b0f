"""The nbgrader course in teaching/: generated from the lab, graded for real.

The graded notebooks of ``teaching/source/`` must be exactly what
``teaching/build_course.py`` makes of the current lab notebooks, and every
lab cell must be in them unchanged.  Then real nbgrader (a subprocess, in a
copy of the course in a temporary directory, never in the repository)
builds the release, which must hold no solution, model answer, hidden test
or rubric; autogrades a solved, an unsolved and a half-wrong submission,
whose scores must be full, zero and in between; and writes the feedback.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / 'teaching'
NOTEBOOKS = ROOT / 'notebooks'


def _load(name):
    spec = importlib.util.spec_from_file_location(
        name, TEACHING / (name + '.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_course = _load('build_course')
submissions = _load('submissions')
ASSIGNMENTS = list(build_course.ASSIGNMENTS)

#: Points per exercise, by the grade ids of its cells (INSTRUCTOR.md).
EXERCISES = {
    'ex1': {'ex1_answer': 3},
    'ex2': {'ex2_answer': 2},
    'ex3': {'ex3_structure': 2, 'ex3_values': 4},
    'ex4': {'ex4_cost': 3, 'ex4_accuracy': 2},
}
MANUAL = ('ex1_answer', 'ex2_answer')
MAX_SCORE = sum(sum(e.values()) for e in EXERCISES.values())
AUTOMATIC = MAX_SCORE - 3 - 2

#: Exercise 4 written as the lab computes cost and accuracy: padding
#: counts (the mistake the exercise is about).
WRONG_EX4 = """def masked_cost(output, targets, target_mask):
    probs = T.reshape(output, (-1, output.shape[-1]))
    return T.mean(T.nnet.categorical_crossentropy(probs, targets.flatten()))


def masked_accuracy(output, targets, target_mask):
    return T.mean(T.eq(T.argmax(output, axis=-1), targets))
"""


def source_notebook(assignment, root=TEACHING):
    return nbformat.read(
        str(root / 'source' / assignment / (assignment + '.ipynb')),
        as_version=4,
    )


def nbgrader_cells(nb):
    return {
        c.metadata['nbgrader']['grade_id']: c
        for c in nb.cells
        if 'nbgrader' in c.metadata
    }


# --------------------------------------------------------------------------
# The source is generated from the lab (no nbgrader needed)


def test_source_is_what_build_course_makes_of_the_lab(tmp_path):
    build_course.build(tmp_path)
    assert build_course.stale(tmp_path) == [], (
        'teaching/source/ is out of date: run python teaching/build_course.py'
    )


@pytest.mark.parametrize('assignment', ASSIGNMENTS)
def test_every_lab_cell_is_in_the_graded_notebook_unchanged(assignment):
    lab = nbformat.read(
        str(NOTEBOOKS / build_course.ASSIGNMENTS[assignment]['lab']),
        as_version=4,
    )
    graded = source_notebook(assignment)
    assert graded.cells[: len(lab.cells)] == lab.cells
    assert graded.metadata == lab.metadata
    # After them only graded cells, the first saying so.
    added = graded.cells[len(lab.cells) :]
    assert all('nbgrader' in c.metadata for c in added)
    assert added[0].source.startswith('## Graded exercises')


def test_a_changed_lab_makes_the_source_stale(tmp_path):
    lab = tmp_path / 'lab'
    shutil.copytree(str(NOTEBOOKS), str(lab))
    path = lab / '01_encoder_decoder.ipynb'
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[9].source = nb.cells[9].source.replace('= 10', '= 12', 1)
    nbformat.write(nb, str(path))
    build_course.build(tmp_path / 'out', lab_dir=lab)
    assert build_course.stale(tmp_path / 'out') == [
        '01_encoder_decoder/01_encoder_decoder.ipynb'
    ]
    script = TEACHING / 'build_course.py'
    check = subprocess.run(
        [sys.executable, str(script), '--check'],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize('assignment', ASSIGNMENTS)
def test_graded_cells_and_points(assignment):
    cells = nbgrader_cells(source_notebook(assignment))
    for exercise, grades in EXERCISES.items():
        for grade_id, points in grades.items():
            meta = cells[grade_id].metadata['nbgrader']
            assert meta['grade'] and meta['points'] == points, grade_id
            if grade_id in MANUAL:
                assert cells[grade_id].cell_type == 'markdown'
                assert meta['solution'] and not meta['locked']
            else:
                assert cells[grade_id].cell_type == 'code'
                assert meta['locked'] and not meta['solution']
    for grade_id in ('ex3_values', 'ex4_cost', 'ex4_accuracy'):
        assert 'BEGIN HIDDEN TESTS' in cells[grade_id].source, grade_id
    code = cells['ex3_code'].source + cells['ex4_code'].source
    assert code.count('### BEGIN SOLUTION') == 3
    total = sum(
        c.metadata['nbgrader'].get('points', 0)
        for c in cells.values()
        if c.metadata['nbgrader']['grade']
    )
    assert total == MAX_SCORE


def test_exercise_files_are_checked(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('# %% tests id=t\nassert True\n')
    with pytest.raises(build_course.CourseError, match='points'):
        build_course.read_exercises(bad)
    bad.write_text('# %% [markdown] answer\n# text\n')
    with pytest.raises(build_course.CourseError, match='needs an id'):
        build_course.read_exercises(bad)
    bad.write_text('# %% grade id=x\npass\n')
    with pytest.raises(build_course.CourseError, match='unknown cell kind'):
        build_course.read_exercises(bad)
    bad.write_text('# %% [markdown] readonly id=x\nnot a comment\n')
    with pytest.raises(build_course.CourseError, match='not a comment'):
        build_course.read_exercises(bad)


def test_exercise_files_include_others(tmp_path):
    (tmp_path / 'part.py').write_text('# %% readonly id=b\nb = 2\n')
    main = tmp_path / 'main.py'
    main.write_text(
        '# %% readonly id=a\na = 1\n# %% include part.py\n'
        '# %% tests id=c points=1\nassert a + b == 3\n'
    )
    cells = build_course.read_exercises(main)
    assert [c.source for c in cells] == ['a = 1', 'b = 2', 'assert a + b == 3']
    main.write_text('# %% include missing.py\n')
    with pytest.raises(build_course.CourseError, match='cannot include'):
        build_course.read_exercises(main)


def test_grading_runs_the_lab_in_quick_mode():
    from seq2seq_lasagne.settings import GRADING_ENV, QUICK_ENV, quick_mode

    assert quick_mode({}) is False
    assert quick_mode({GRADING_ENV: 'autograde'}) is True
    assert quick_mode({GRADING_ENV: 'validate'}) is True
    # An explicit choice wins.
    assert quick_mode({GRADING_ENV: 'autograde', QUICK_ENV: '0'}) is False
    assert quick_mode({QUICK_ENV: '1'}) is True
    with pytest.raises(ValueError, match=QUICK_ENV):
        quick_mode({GRADING_ENV: 'autograde', QUICK_ENV: 'yes'})


# --------------------------------------------------------------------------
# Real nbgrader, in a copy of the course


def gradebook(course):
    """The course's nbgrader gradebook (a context manager)."""
    from nbgrader.api import Gradebook

    return Gradebook('sqlite:///%s' % (course / 'gradebook.db'))


def nbgrader(course, *args, env=None):
    """Run one nbgrader command in the course; fail with its output."""
    bin_dir = os.path.dirname(sys.executable)
    run_env = dict(os.environ if env is None else env)
    # nbgrader runs alembic as a program: the venv's bin must be on PATH.
    run_env['PATH'] = bin_dir + os.pathsep + run_env.get('PATH', '')
    # A notebook runs its lab cells as nbgrader chooses (quick mode).
    run_env.pop('SEQ2SEQ_QUICK', None)
    proc = subprocess.run(
        [os.path.join(bin_dir, 'nbgrader'), *args],
        cwd=str(course),
        env=run_env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def course(tmp_path_factory):
    """A copy of teaching/ with both assignments released."""
    pytest.importorskip(
        'nbgrader',
        reason='nbgrader needs Python >= 3.11 (the teaching extra); CI has it',
    )
    course = tmp_path_factory.mktemp('course') / 'teaching'
    shutil.copytree(
        str(TEACHING),
        str(course),
        ignore=shutil.ignore_patterns(
            '__pycache__', 'release', 'submitted', 'autograded', 'feedback'
        ),
    )
    for name in ('gradebook.db',):
        (course / name).unlink(missing_ok=True)
    for assignment in ASSIGNMENTS:
        nbgrader(course, 'generate_assignment', assignment)
    return course


def secret_lines(nb):
    """Lines of a source notebook a student must not see: solutions, model
    answers and hidden tests (lines also found elsewhere left out)."""
    secret, public = set(), set()
    for cell in nb.cells:
        meta = cell.metadata.get('nbgrader', {})
        whole = meta.get('solution') and cell.cell_type == 'markdown'
        inside = False
        for line in cell.source.split('\n'):
            text = line.strip()
            opens = 'BEGIN SOLUTION' in text or 'BEGIN HIDDEN TESTS' in text
            if opens:
                inside = True
            if whole or inside:
                secret.add(text)
            else:
                public.add(text)
            if 'END SOLUTION' in text or 'END HIDDEN TESTS' in text:
                inside = False
    return {s for s in secret - public if len(s) > 12}


def rubric_lines():
    text = (TEACHING / 'INSTRUCTOR.md').read_text()
    return [
        line.strip('- ').strip()
        for line in text.splitlines()
        if line.startswith('- ') and len(line) > 30
    ]


@pytest.mark.slow
@pytest.mark.parametrize('assignment', ASSIGNMENTS)
def test_release_holds_no_solution_hidden_test_or_rubric(course, assignment):
    release = course / 'release' / assignment
    files = sorted(p.name for p in release.iterdir())
    assert files == sorted(
        [assignment + '.ipynb'] + build_course.ASSIGNMENTS[assignment]['files']
    )
    text = (release / (assignment + '.ipynb')).read_text()
    secrets = secret_lines(source_notebook(assignment, course))
    assert len(secrets) > 40  # the search has something to find
    text_lines = {
        line.strip()
        for cell in nbformat.reads(text, as_version=4).cells
        for line in cell.source.split('\n')
    }
    assert not secrets & text_lines, sorted(secrets & text_lines)[:5]
    for marker in ('BEGIN SOLUTION', 'END SOLUTION', 'HIDDEN TESTS'):
        assert marker not in text, marker
    for line in rubric_lines():
        assert line[:40] not in text, line
    # The student's cells say what to do.
    cells = nbgrader_cells(nbformat.reads(text, as_version=4))
    assert cells['ex1_answer'].source == 'YOUR ANSWER HERE'
    assert 'raise NotImplementedError()' in cells['ex3_code'].source
    assert 'raise NotImplementedError()' in cells['ex4_code'].source


def submit(course, assignment, student, nb):
    folder = course / 'submitted' / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / (assignment + '.ipynb')))


def grades(course, assignment, student):
    """``{grade_id: (auto_score, needs_manual_grade)}`` and the total."""
    with gradebook(course) as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        found = {
            g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades
        }
        return found, nb.score, nb.max_score


def exercise_scores(found):
    return {
        name: sum(found[g][0] or 0 for g in cells)
        for name, cells in EXERCISES.items()
    }


@pytest.mark.slow
def test_autograde_solved_unsolved_and_half_wrong(course):
    assignment = '01_encoder_decoder'
    release = course / 'release' / assignment / (assignment + '.ipynb')
    source = course / 'source' / assignment / (assignment + '.ipynb')
    submit(course, assignment, 'solved', submissions.answered(release, source))
    submit(
        course,
        assignment,
        'unsolved',
        nbformat.read(str(release), as_version=4),
    )
    half = submissions.answered(
        release, source, replace={'ex4_code': WRONG_EX4}, keep=MANUAL
    )
    submit(course, assignment, 'half', half)
    nbgrader(course, 'autograde', assignment)

    found, _, max_score = grades(course, assignment, 'solved')
    assert max_score == MAX_SCORE
    scores = exercise_scores(found)
    assert scores['ex3'] == 6 and scores['ex4'] == 5, found
    for grade_id in MANUAL:  # the written answers wait for the instructor
        assert found[grade_id] == (None, True)

    found, score, _ = grades(course, assignment, 'unsolved')
    assert score == 0, found
    for grade_id in MANUAL:  # an unchanged answer is zero, no review
        assert found[grade_id] == (0, False)
    autograded = course / 'autograded' / 'unsolved' / assignment
    executed = nbformat.read(
        str(autograded / (assignment + '.ipynb')), as_version=4
    )
    errors = [
        o.ename
        for c in executed.cells
        for o in c.get('outputs', [])
        if o.output_type == 'error'
    ]
    # The unanswered functions raise; nothing else fails.
    assert errors and set(errors) == {'NotImplementedError'}, errors

    found, score, _ = grades(course, assignment, 'half')
    scores = exercise_scores(found)
    assert (scores['ex3'], scores['ex4']) == (6, 0), found
    assert 0 < score < AUTOMATIC

    # The instructor grades the written answers: full marks in all.
    with gradebook(course) as gb:
        for grade_id in MANUAL:
            grade = gb.find_grade(grade_id, assignment, assignment, 'solved')
            grade.manual_score = grade.max_score
        gb.db.commit()
    _, score, max_score = grades(course, assignment, 'solved')
    assert score == max_score == MAX_SCORE

    nbgrader(course, 'generate_feedback', assignment)
    for student in ('solved', 'unsolved', 'half'):
        html = (
            course / 'feedback' / student / assignment / (assignment + '.html')
        )
        text = html.read_text()
        assert '<html' in text
        score_line = re.search(r'Score: ([\d.]+) / ([\d.]+)', text)
        assert score_line, student
        _, score, max_score = grades(course, assignment, student)
        assert float(score_line.group(1)) == score, student
        assert float(score_line.group(2)) == max_score


@pytest.mark.slow
def test_autograde_part_two_solved(course):
    assignment = '02_attention_decoder'
    release = course / 'release' / assignment / (assignment + '.ipynb')
    source = course / 'source' / assignment / (assignment + '.ipynb')
    submit(course, assignment, 'solved', submissions.answered(release, source))
    nbgrader(course, 'autograde', assignment, '--student', 'solved')
    found, score, max_score = grades(course, assignment, 'solved')
    assert max_score == MAX_SCORE
    assert score == AUTOMATIC, found
    assert exercise_scores(found)['ex3'] == 6
