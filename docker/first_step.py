"""Time to a student's first attention training step, and what it compiled.

Runs the attention lab notebook the way a student does, in a real Jupyter
kernel (nbclient): every code cell up to the one that compiles
``train_func``, then one training step on one batch, as the notebook's
training loop does.  Prints one JSON line::

    {"seconds": ..., "kernel_seconds": ..., "compiled": N, "compiledir": ...}

``seconds`` is from this script's start (kernel start included) to the end
of the step; ``compiled`` counts the C modules Theano added to its compile
directory meanwhile, ``compiled_ops`` names their op classes.
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


def compiled_modules(compiledir):
    """The set of compiled module files under the compile directory."""
    found = set()
    for dirpath, _, files in os.walk(compiledir):
        found.update(
            os.path.join(dirpath, f) for f in files if f.endswith('.so')
        )
    return found


def op_classes(modules):
    """The op classes whose C code the given module files hold (read from
    the ``// Op class X`` lines of each module's ``mod.cpp``)."""
    found = set()
    for module in modules:
        source = os.path.join(os.path.dirname(module), 'mod.cpp')
        try:
            with open(source) as f:
                for line in f:
                    if line.startswith('// Op class '):
                        found.add(line.split()[-1])
        except OSError:
            found.add('?')
    return sorted(found)


def compiledir():
    """Theano's compile directory, as the kernel will see it."""
    import subprocess

    out = subprocess.run(
        [
            sys.executable,
            '-c',
            'import seq2seq_lasagne, theano; print(theano.config.compiledir)',
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd='/',
    )
    return out.stdout.strip().splitlines()[-1]


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
    cells.append(nbformat.v4.new_code_cell(FIRST_STEP))
    nb.cells = cells
    directory = compiledir()
    before = compiled_modules(directory)
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
    out = ''.join(o.get('text', '') for o in nb.cells[-1].outputs)
    if 'first step cost' not in out:
        print(
            'first_step: error: the training step printed nothing',
            file=sys.stderr,
        )
        return 1
    new = compiled_modules(directory) - before
    print(
        json.dumps(
            {
                'seconds': round(end - START, 2),
                'kernel_seconds': round(end - kernel_start, 2),
                'compiled': len(new),
                'compiled_ops': op_classes(new),
                'compiledir': directory,
            }
        )
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
