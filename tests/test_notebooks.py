"""The lab's notebooks: committed clean, faithful, and run end to end.

Every notebook (the lab's two and the solutions) is executed top to bottom
in quick mode (``SEQ2SEQ_QUICK=1``) in a real Jupyter kernel (``python3``)
started by nbclient, and any cell error fails the test with that cell's
error.  The tests check what the notebooks do and print, not their cells'
text: after the lab's last cell a probe cell reports the kernel's state
(settings, parameters, one training step compared with the package's
recipe).  The executed copies are left in ``test-artifacts/notebooks/``.

The static checks: committed without outputs, one ``parameters`` cell,
the introduction first with a link to ``CHANGES.md``, no solution code in
the lab, the lab's ``RepeatLayer`` cell computing what the package's does.
"""

import ast
import base64
import json
import os
import sys
import time
from pathlib import Path

import lasagne
import nbformat
import numpy as np
import pytest
import theano
import theano.tensor as T
from nbclient.exceptions import CellExecutionError
from original import printed_shapes, trainable_parameters

from seq2seq_lasagne import notebooks
from seq2seq_lasagne.layers import RepeatLayer
from seq2seq_lasagne.reporting import REFERENCE_SUMMARY
from seq2seq_lasagne.settings import QUICK

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / 'notebooks'
ARTIFACTS = ROOT / 'test-artifacts' / 'notebooks'
LAB = ['01_encoder_decoder.ipynb', '02_attention_decoder.ipynb']
SOLUTIONS = [
    'solutions/01_encoder_decoder_solutions.ipynb',
    'solutions/02_attention_decoder_solutions.ipynb',
]
ALL = LAB + SOLUTIONS

#: Code that answers exercises 3 and 4; none of it belongs in the lab.
SOLUTION_CODE = [
    'backwards=True',
    'ConcatLayer',
    'ElemwiseSumLayer',
    'ElemwiseMergeLayer',
    'build_encoder',
    'build_baseline',
    'build_attention',
    'sequence_cost',
    'sequence_accuracy',
    'target_mask=',
    'ymask',
    'seq2seq_lasagne.models',
    'seq2seq_lasagne.training',
    'seq2seq_lasagne.objectives',
    'seq2seq_lasagne.variants',
    'seq2seq_lasagne.metrics',
    'from seq2seq_lasagne import',
]


def read(name):
    return nbformat.read(str(NOTEBOOKS / name), as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == 'code']


def text_outputs(cell):
    return ''.join(
        o.get('text', '')
        for o in cell.get('outputs', [])
        if o.output_type == 'stream' and o.name == 'stdout'
    )


def markdown_outputs(nb):
    return [
        o.data['text/markdown']
        for cell in code_cells(nb)
        for o in cell.outputs
        if 'text/markdown' in o.get('data', {})
    ]


# --------------------------------------------------------------------------
# Static checks (no kernel)


def test_the_notebooks_are_all_there():
    found = [str(p.relative_to(NOTEBOOKS)) for p in notebooks.notebook_paths()]
    assert found == ALL
    assert notebooks.notebook_paths(solutions=False) == [
        NOTEBOOKS / n for n in LAB
    ]
    for name in ('README.md', 'CHANGES.md', 'enc-dec.svg'):
        assert (NOTEBOOKS / name).is_file(), name


@pytest.mark.parametrize('name', ALL)
def test_committed_clean(name):
    nb = read(name)
    nbformat.validate(nb)
    assert nb.metadata['kernelspec']['name'] == 'python3'
    for i, cell in enumerate(code_cells(nb)):
        assert cell.outputs == [], 'cell %d has outputs' % i
        assert cell.execution_count is None, 'cell %d has a count' % i
        assert 'execution' not in cell.metadata, 'cell %d: timings' % i
    tagged = [
        c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])
    ]
    assert len(tagged) == 1 and tagged[0].cell_type == 'code'
    assert nb.cells[0].cell_type == 'markdown'


@pytest.mark.parametrize('name', LAB)
def test_lab_holds_no_solution_code(name):
    for cell in code_cells(read(name)):
        for snippet in SOLUTION_CODE:
            assert snippet not in cell.source, (snippet, cell.source[:200])
    text = '\n'.join(
        c.source for c in read(name).cells if c.cell_type == 'markdown'
    )
    assert 'solution' not in text.lower()


@pytest.mark.parametrize('name', LAB)
def test_lab_starts_with_its_introduction_and_links_its_changes(name):
    nb = read(name)
    first = nb.cells[0].source
    # The lab's own introduction comes first; the list of changes is one
    # link away, not in the notebook.
    assert first.startswith('#')
    assert '(CHANGES.md)' in first
    assert first.count('(CHANGES.md)') == 1
    changes = (NOTEBOOKS / 'CHANGES.md').read_text()
    for topic in (
        'learn_init=False',
        'RepeatLayer',
        'SEQ2SEQ_QUICK',
        '%matplotlib nbagg',
        'decode_pre_steps',
    ):
        assert topic in changes, topic
    # No set-up cell precedes the introduction.
    assert (
        nb.cells.index(next(c for c in nb.cells if c.cell_type == 'code')) == 1
    )


@pytest.mark.parametrize('name', LAB)
def test_typos_of_the_original_are_gone(name):
    text = '\n'.join(c.source for c in read(name).cells)
    for typo in [
        'excercise',
        'excersize',
        'implememt',
        'indept',
        'beacause',
        'Becasue',
        'randomy',
        'ouputs',
        'attetion',
        'embeding',
        'voodo ',
    ]:
        assert typo not in text, typo


def test_lab_part_one_sets_the_exercises():
    markdown = '\n'.join(
        c.source for c in read(LAB[0]).cells if c.cell_type == 'markdown'
    )
    for text in [
        'What is the final validation performance',
        '"jig-saw" like compared to FFN and CNN models',
        'Optional: Bidirectional Encoder',
        'Optional: Add support for different lengths of targets',
    ]:
        assert text in markdown
    assert 'enc-dec.svg' in markdown


def _notebook_repeat_layer():
    """The RepeatLayer class as the lab's cell defines it."""
    for cell in code_cells(read(LAB[0])):
        if 'class RepeatLayer' not in cell.source:
            continue  # (cells with IPython magics are not Python)
        tree = ast.parse(cell.source)
        if any(
            isinstance(node, ast.ClassDef) and node.name == 'RepeatLayer'
            for node in tree.body
        ):
            namespace = {'lasagne': lasagne, 'theano': theano}
            exec(compile(tree, 'RepeatLayer cell', 'exec'), namespace)
            return namespace['RepeatLayer']
    raise AssertionError('no cell of the lab defines RepeatLayer')


def test_the_labs_repeat_layer_computes_what_the_package_does():
    theirs = _notebook_repeat_layer()
    rng = np.random.RandomState(0)
    for shape in [(4, 3), (2, 5, 3)]:
        l_in = lasagne.layers.InputLayer((None,) + shape[1:])
        x = T.TensorType('float32', (False,) * len(shape))('x')
        layers = [cls(l_in, n=6) for cls in (theirs, RepeatLayer)]
        assert layers[0].output_shape == layers[1].output_shape
        assert layers[0].output_shape == (None, 6) + shape[1:]
        outputs = [lasagne.layers.get_output(layer, x) for layer in layers]
        # The gradient too: each copy passes its gradient back.
        grads = [T.grad((o * o).sum(), x) for o in outputs]
        f = theano.function([x], outputs + grads)
        value = rng.normal(size=shape).astype('float32')
        a, b, ga, gb = f(value)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(ga, gb, rtol=1e-6)


# --------------------------------------------------------------------------
# Executing: the notebook runner against throwaway notebooks


def tiny_notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = {
        'name': 'python3',
        'language': 'python',
        'display_name': 'Python 3',
    }
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


@pytest.mark.slow
def test_execute_notebooks_writes_copies_and_reports_failures(tmp_path):
    src = tmp_path / 'nbs'
    (src / 'solutions').mkdir(parents=True)
    nbformat.write(
        tiny_notebook(
            'import os, sys; print(os.environ["SEQ2SEQ_QUICK"], os.getcwd())',
            'print(sys.executable)',
        ),
        str(src / 'a.ipynb'),
    )
    nbformat.write(
        tiny_notebook('print("before")', '1 / 0', 'print("x")'),
        str(src / 'solutions' / 'b.ipynb'),
    )
    (src / 'enc-dec.svg').write_text('<svg/>')
    out = tmp_path / 'out'
    lines = []
    with pytest.raises(notebooks.NotebookExecutionError) as info:
        notebooks.execute_notebooks(
            out, quick=True, directory=src, log=lines.append
        )
    assert list(info.value.failures) == [os.path.join('solutions', 'b.ipynb')]
    assert 'ZeroDivisionError' in str(info.value)
    assert len(lines) == 2 and 'FAILED' in lines[1]
    a = nbformat.read(str(out / 'a.ipynb'), as_version=4)
    quick, cwd = text_outputs(a.cells[0]).split()
    assert quick == '1' and Path(cwd).resolve() == src.resolve()
    # The kernel is this environment's Python.
    assert (
        Path(text_outputs(a.cells[1]).strip()).resolve()
        == Path(sys.executable).resolve()
    )
    b = nbformat.read(str(out / 'solutions' / 'b.ipynb'), as_version=4)
    assert text_outputs(b.cells[0]) == 'before\n'
    assert b.cells[1].outputs[0].output_type == 'error'
    assert b.cells[2].outputs == []
    assert (out / 'enc-dec.svg').is_file()

    # Selecting notebooks by name; full mode sets SEQ2SEQ_QUICK=0.
    written = notebooks.execute_notebooks(
        out / 'again', notebooks=['a'], directory=src, log=lines.append
    )
    assert written == [out / 'again' / 'a.ipynb']
    again = nbformat.read(str(written[0]), as_version=4)
    assert text_outputs(again.cells[0]).split()[0] == '0'
    with pytest.raises(FileNotFoundError):
        notebooks.execute_notebooks(out, notebooks=['nope'], directory=src)
    with pytest.raises(ValueError):  # never over the notebooks themselves
        notebooks.execute_notebooks(src, directory=src)


def test_notebooks_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv(notebooks.NOTEBOOKS_ENV, str(tmp_path))
    assert notebooks.notebooks_dir() == tmp_path
    assert notebooks.notebook_paths() == []
    monkeypatch.delenv(notebooks.NOTEBOOKS_ENV)
    assert notebooks.notebooks_dir() == NOTEBOOKS
    with pytest.raises(FileNotFoundError):
        notebooks.notebooks_dir(tmp_path / 'missing')


# --------------------------------------------------------------------------
# Executing the real notebooks in quick mode

#: Appended to a lab notebook before it runs: reports the kernel's state,
#: and trains one step with the notebook's own train_func and with the
#: package's recipe from the same weights and Adam state, on one batch.
PROBE = """
import json as _json
from seq2seq_lasagne.models import build_model as _build
from seq2seq_lasagne.training import Trainer as _Trainer
def _notebook_cost(output, targets, target_mask=None):
    return T.mean(T.nnet.categorical_crossentropy(
        T.reshape(output, (-1, output.shape[-1])), targets.flatten()))
_model = _build({model!r}, max_digits=MAX_DIGITS)
_trainer = _Trainer(_model, cost=_notebook_cost)
_trainer.compile(test=False)
# The same weights and Adam state (lasagne's adam orders its updates the
# same way for the same parameters), then one step each on one batch.
_pairs = list(zip(updates, _trainer.updates))
assert len(updates) == len(_trainer.updates)
for _a, _b in _pairs:
    _b.set_value(_a.get_value())
_x, _xm, _y = get_batch(BATCH_SIZE, MIN_DIGITS, MAX_DIGITS)[:3]
_theirs = float(train_func(_x, _y, _xm)[0])
_ours = _trainer.train_step(_x, _y, _xm)[0]
_step = max(float(np.max(np.abs(_a.get_value() - _b.get_value())))
            for _a, _b in _pairs)
print('PROBE' + _json.dumps({{
    'samples_to_process': SAMPLES_TO_PROCESS, 'val_size': VAL_SIZE,
    'val_interval': VAL_INTERVAL, 'samples_processed': samples_processed,
    'validations': len(accs),
    'parameters': [[p.name, list(p.get_value().shape)]
                   for p in all_parameters],
    'embedding_trained': any(p is l_emb.W for p in all_parameters),
    'cost': [_theirs, _ours], 'weights_after_one_step_differ_by': _step}}))
"""


#: Appended to the attention notebook after PROBE: drives its explorer as
#: a student would (typing into the box) and reports what its Output
#: widget shows, with the notebook's own test_func's translation of the
#: same text; then the reference model's explorer.
EXPLORER_PROBE = """
import base64 as _b64, json as _json
from seq2seq_lasagne.data_generator import (
    decode_prediction as _decode, encode_batch as _encode)
from seq2seq_lasagne.explorer import AttentionExplorer as _Explorer
def _shown(e):
    outs = e.output.outputs
    return {{'text': ''.join(o.get('text', '') for o in outs
                            if o['output_type'] == 'stream'),
            'png': [_png(o['data']['image/png'])[:40] for o in outs
                    if 'image/png' in o.get('data', {{}})]}}
def _png(data):  # base64 text, as a front end gets it
    return data if isinstance(data, str) else _b64.b64encode(data).decode()
_report = {{'source': explorer.translator.source}}
explorer.text.value = 'one twelve'
_report['bad'] = _shown(explorer)
explorer.text.value = {text!r}
_report['good'] = _shown(explorer)
_x, _xm = _encode([{text!r}])
_out = test_func(_x, np.zeros((1, MAX_DIGITS + 1), 'int32'), _xm)[1]
_report['expected'] = _decode(np.argmax(_out, axis=-1)[0])
_reference = _Explorer.reference({text!r})
_report['reference'] = _shown(_reference)
_report['reference_source'] = _reference.translator.source
print('EXPLORER' + _json.dumps(_report))
"""


#: Seconds one cell may run here: three times quick mode's limit.  The
#: suite starts with an empty compile cache and CI runs it beside the image
#: builds on 2 cores; in one such run, with a benchmark beside it too, the
#: part-one solutions stopped without a cell error (past the limit, or its
#: kernel gone), while alone they pass in a few minutes.
CELL_TIMEOUT = 3 * notebooks.QUICK_TIMEOUT


def run_notebook(name, probe=None):
    """Execute one notebook in quick mode; fail with the cell's error."""
    nb = read(name)
    if probe is not None:
        nb.cells.append(nbformat.v4.new_code_cell(probe))
    path = ARTIFACTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    # Run it from its own directory, so that its relative links resolve.
    source = NOTEBOOKS / name
    start = time.perf_counter()
    try:
        nb = notebooks.execute_notebook(
            source, quick=True, timeout=CELL_TIMEOUT, nb=nb
        )
    except CellExecutionError as exc:
        nbformat.write(exc.notebook, str(path))
        pytest.fail(
            '%s: a cell failed in quick mode:\n%s' % (name, exc), pytrace=False
        )
    except Exception as exc:  # timeout, dead kernel
        pytest.fail(
            '%s: %s: %s' % (name, type(exc).__name__, exc), pytrace=False
        )
    nbformat.write(nb, str(path))
    print('%s executed in %.0f s' % (name, time.perf_counter() - start))
    for cell in code_cells(nb):
        for output in cell.outputs:
            assert output.output_type != 'error', cell.source[:200]
            if output.output_type == 'stream':
                assert 'Traceback' not in output.text, output.text
    return nb


def probe_result(nb):
    line = [
        line
        for line in text_outputs(nb.cells[-1]).splitlines()
        if line.startswith('PROBE')
    ]
    assert line, text_outputs(nb.cells[-1])
    return json.loads(line[0][len('PROBE') :])


def images(cell):
    return sum('image/png' in o.get('data', {}) for o in cell.outputs)


def shape_lines(nb):
    """Every printed line that is a shape tuple, in order."""
    out = []
    for cell in code_cells(nb):
        for line in text_outputs(cell).splitlines():
            line = line.strip()
            if line.startswith('(') and line.endswith(')'):
                try:
                    out.append(tuple(ast.literal_eval(line)))
                except (ValueError, SyntaxError):
                    pass
    return out


def check_lab(nb, model):
    probe = probe_result(nb)
    # The parameters cell gave the quick settings of the package.
    assert probe['samples_to_process'] == QUICK['samples']
    assert probe['val_size'] == QUICK['val_size']
    assert probe['val_interval'] == QUICK['val_interval']
    assert probe['samples_processed'] == QUICK['samples']
    assert probe['validations'] == QUICK['samples'] // QUICK['val_interval']
    # The original's parameter list and shapes.
    params = [(n, tuple(s)) for n, s in probe['parameters']]
    assert params == trainable_parameters(model)
    assert not probe['embedding_trained']
    assert shape_lines(nb) == printed_shapes(model)
    # The notebook's training function is the package's recipe.
    theirs, ours = probe['cost']
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert probe['weights_after_one_step_differ_by'] < 1e-5
    # The live validation plot ends as one figure.
    plots = [c for c in code_cells(nb) if images(c)]
    return plots


@pytest.mark.slow
def test_lab_part_one_runs():
    nb = run_notebook(LAB[0], PROBE.format(model='baseline'))
    plots = check_lab(nb, 'baseline')
    assert len(plots) == 2  # the validation curve, accuracy per position
    assert all(images(c) == 1 for c in plots)
    table = ''.join(text_outputs(c) for c in code_cells(nb))
    assert "'#'=10,\t' '=11,\t'e'=12," in table and 'None' not in table


@pytest.mark.slow
def test_lab_part_two_runs(reference_attention):
    text = 'four four two'
    nb = run_notebook(
        LAB[1],
        PROBE.format(model='attention') + EXPLORER_PROBE.format(text=text),
    )
    plots = check_lab(nb, 'attention')
    # Validation curve, accuracy per position, alpha weights.
    assert len(plots) == 3
    assert all(images(c) == 1 for c in plots)
    check_explorer(nb, text, reference_attention)


#: The first eight bytes of every PNG file.
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def check_explorer(nb, text, reference_attention):
    """The explorer cell, the last of the lab, shows its widget; typing
    into it shows the translation and a heatmap."""
    explorer_cell = code_cells(nb)[-2]  # before the probe
    assert 'AttentionExplorer' in explorer_cell.source
    views = [
        o
        for o in explorer_cell.outputs
        if 'application/vnd.jupyter.widget-view+json' in o.get('data', {})
    ]
    assert len(views) == 1
    lines = [
        line
        for line in text_outputs(nb.cells[-1]).splitlines()
        if line.startswith('EXPLORER')
    ]
    report = json.loads(lines[0][len('EXPLORER') :])
    # The kernel trained the lab's network: the explorer shows that one.
    assert report['source'] == 'the network of this notebook'
    bad = report['bad']
    assert bad['text'].startswith("error: unknown word 'twelve'")
    assert bad['png'] == []
    good = report['good']
    expected = report['expected']
    assert good['text'].startswith('"%s" -> %s\n' % (text, expected))
    # The probe keeps 40 base64 characters of each image (30 bytes): decode
    # them rather than compare base64 text, whose padding differs.
    assert len(good['png']) == 1
    assert base64.b64decode(good['png'][0]).startswith(PNG_SIGNATURE)
    # The reference model: the same translation as in this process.
    ref = report['reference']
    ours = reference_attention.translate([text])[0]['output']
    assert ref['text'].startswith('"%s" -> %s\n' % (text, ours))
    assert 'reference' in report['reference_source']
    assert len(ref['png']) == 1
    assert base64.b64decode(ref['png'][0]).startswith(PNG_SIGNATURE)
    # What a front end shows: the widget state saved with the notebook
    # holds the Output widget with that text and image.
    state = nb.metadata['widgets'][
        'application/vnd.jupyter.widget-state+json'
    ]['state']
    outputs = [
        m['state']['outputs']
        for m in state.values()
        if m['model_name'] == 'OutputModel'
    ]
    shown = [
        o
        for outs in outputs
        for o in outs
        if o.get('text', '').startswith('"%s" -> %s' % (text, expected))
    ]
    assert shown


@pytest.mark.slow
@pytest.mark.parametrize('name', SOLUTIONS)
def test_solutions_run(name):
    nb = run_notebook(name)
    tables = markdown_outputs(nb)
    # The reference figures, rendered from the committed summary.
    if REFERENCE_SUMMARY.is_file():
        reference = [t for t in tables if 'final validation accuracy' in t]
        assert reference and '| baseline |' in reference[0]
        assert '| attention |' in reference[0]
    # Exercise 3: the four encoders trained side by side.
    live = [t for t in tables if t.startswith('| variant | samples |')]
    assert live
    for variant in (
        'GRU encoder (the lab)',
        'bidirectional, concat',
        'bidirectional, sum',
        'bidirectional, mul',
    ):
        assert '| %s |' % variant in live[0], variant
    # Exercise 4: masked and unmasked accuracy of both trainings.
    ex4 = [t for t in tables if 'accuracy, real positions (masked)' in t][0]
    rows = [
        r for r in ex4.splitlines() if r.startswith(('| unmasked', '| masked'))
    ]
    assert len(rows) == 2
    # Padding inflates the unmasked accuracy even in a quick run.
    unmasked_model = [float(v) for v in rows[0].strip('|').split('|')[1:]]
    assert unmasked_model[1] > unmasked_model[0]
    # The figures of a full run, from their file (or a line saying so).
    recorded = [t for t in tables if 'full run of this notebook' in t]
    assert len(recorded) == 2
