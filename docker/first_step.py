"""Time to a student's first attention training step, and what it compiled.

Runs the attention lab notebook the way a student does, in a real Jupyter
kernel (nbclient): every code cell up to the one that compiles
``train_func``, then one training step on one batch, as the notebook's
training loop does.  Prints one JSON line::

    {"seconds": ..., "kernel_seconds": ..., "compiled": N, "compiledir": ...}

``seconds`` is from this script's start (kernel start included) to the end
of the step; ``compiled`` counts the C modules g++ compiled in the kernel
meanwhile, ``compiled_ops`` names their op classes, ``graph_cache`` counts
the graphs optimised anew (misses) and those found optimised (hits) by
``seq2seq_lasagne.compat.graph_cache``.  They are counted in
the kernel, by a cell run right after the notebook's first one (which
imports the package, and with it Theano): counting the module files left
in the compile directory afterwards missed the modules Theano keeps as
unversioned, in temporary folders it deletes when the kernel stops.
Used by tests/test_container.py and to measure docs/CONTAINER.md's figure::

    python docker/first_step.py [NOTEBOOK]

NOTEBOOK defaults to ``$SEQ2SEQ_NOTEBOOKS/02_attention_decoder.ipynb``.
"""

import json
import os
import sys
import time

START = time.perf_counter()

FIRST_STEP = """\
inputs, input_masks, targets, target_masks, _, _ = get_batch(
    batch_size=BATCH_SIZE, max_digits=MAX_DIGITS, min_digits=MIN_DIGITS)
batch_cost, batch_acc, batch_output = train_func(inputs, targets, input_masks)
print('first step cost', float(batch_cost))
"""


# Every module g++ compiles in the kernel, by the op classes in its code.
COUNT_COMPILES = """\
import theano.gof.cmodule as _s2s_cmodule
_s2s_compiled = []
_s2s_compile_str = _s2s_cmodule.GCC_compiler.compile_str


def _s2s_counting(module_name, src_code, *args, **kwargs):
    _s2s_compiled.append(sorted({
        line.split()[-1] for line in src_code.splitlines()
        if line.startswith('// Op class ')}))
    return _s2s_compile_str(module_name, src_code, *args, **kwargs)


_s2s_cmodule.GCC_compiler.compile_str = staticmethod(_s2s_counting)
"""

REPORT = """\
import json, theano
from seq2seq_lasagne.compat import graph_cache as _s2s_graphs
print('S2S_REPORT ' + json.dumps({'compiled': _s2s_compiled,
                                  'compiledir': theano.config.compiledir,
                                  'graph_cache': _s2s_graphs.stats}))
"""


def main(argv=None):
    import nbformat
    from nbclient import NotebookClient

    args = sys.argv[1:] if argv is None else argv
    path = (
        args[0]
        if args
        else os.path.join(
            os.environ.get('SEQ2SEQ_NOTEBOOKS', 'notebooks'),
            '02_attention_decoder.ipynb',
        )
    )
    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != 'code':
            continue
        cells.append(cell)
        if 'train_func = theano.function' in cell.source:
            break
    else:
        print(
            'first_step: error: no cell compiles train_func in %s' % path,
            file=sys.stderr,
        )
        return 1
    cells.insert(1, nbformat.v4.new_code_cell(COUNT_COMPILES))
    cells.append(nbformat.v4.new_code_cell(FIRST_STEP))
    cells.append(nbformat.v4.new_code_cell(REPORT))
    nb.cells = cells
    kernel_start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=1800,
        kernel_name='python3',
        resources={
            'metadata': {'path': os.path.dirname(os.path.abspath(path))}
        },
    ).execute()
    end = time.perf_counter()
    out = ''.join(o.get('text', '') for o in nb.cells[-2].outputs)
    if 'first step cost' not in out:
        print(
            'first_step: error: the training step printed nothing',
            file=sys.stderr,
        )
        return 1
    report = ''.join(o.get('text', '') for o in nb.cells[-1].outputs)
    report = json.loads(report.split('S2S_REPORT ', 1)[1])
    print(
        json.dumps(
            {
                'seconds': round(end - START, 2),
                'kernel_seconds': round(end - kernel_start, 2),
                'compiled': len(report['compiled']),
                'compiled_ops': sorted(
                    {op for ops in report['compiled'] for op in ops}
                ),
                'compiledir': report['compiledir'],
                'graph_cache': report['graph_cache'],
            }
        )
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
