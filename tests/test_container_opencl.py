"""Theano's GPU backend without a GPU: the image's OpenCL variant.

The ``opencl`` target of the Dockerfile adds Debian's PoCL (an OpenCL
device on the CPU) and CLBlast to the image and sets
``THEANO_FLAGS=device=opencl0:0``: the gpuarray code paths of Theano 1.0.5
(GpuElemwise, GpuDot22, GpuGemv inside scan's steps, host/device
transfers, ...) run for real; scan's loop itself stays on the host
(docs/CONTAINER.md says why).
Built and run by .ci/run::

    S2S_IMAGE_OPENCL=$(scripts/build_image.sh opencl) \\
        .venv/bin/python -m pytest -m container tests/test_container_opencl.py

Without ``S2S_IMAGE_OPENCL`` or podman the tests skip saying why; under CI
(CI=true) that is a failure.  See tests/test_container.py for the helpers.
"""

import json

import pytest
from test_container import image_from, record, run

pytestmark = pytest.mark.container

#: Training run compared between device=opencl0:0 and device=cpu: three
#: steps of 100 samples, the training cost of each step logged (validation
#: after every step).
SAMPLES, VAL_INTERVAL, VAL_SIZE, SEED = 300, 100, 100, 7
#: float32 on two BLAS libraries (CLBlast, OpenBLAS) and two compilers
#: (PoCL's clang, g++): the costs agree to about 1e-6 relative; the bound
#: leaves a margin of two orders of magnitude and is still far below what a
#: wrong kernel would give (a cost off by a percent).
RTOL = 1e-4


@pytest.fixture(scope='module')
def opencl():
    return image_from('S2S_IMAGE_OPENCL')


def test_doctor_on_opencl_names_the_ops_on_the_device(opencl, capsys):
    res = run(opencl, 'seq2seq-lasagne', 'doctor', check=False, timeout=1800)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert out.splitlines()[-1] == 'doctor: all checks passed on opencl0:0'
    rows = dict(
        line.split('  ', 1) for line in out.splitlines() if '  ' in line
    )
    rows = {k.strip(): v.strip() for k, v in rows.items()}
    assert rows['device'] == 'opencl0:0'
    on_device = rows['ops on opencl0:0'].split(', ')
    on_host = rows['ops on the host'].split(', ')
    # Matrix products and element-wise maths run on the device, with
    # transfers in between; scan stays on the host (docs/CONTAINER.md).
    assert 'GpuDot22' in on_device or 'GpuGemm' in on_device, on_device
    assert 'GpuElemwise' in on_device, on_device
    assert 'Scan' in on_host, on_host
    record(
        'opencl_doctor',
        {
            'device': on_device,
            'host': on_host,
            'transfers': rows['transfers'].split(', '),
        },
    )
    with capsys.disabled():
        print(
            '\n[container] opencl0:0 device ops: %s\n[container] host ops: '
            '%s' % (rows['ops on opencl0:0'], rows['ops on the host'])
        )


def train(image, model, device):
    """A short run in a fresh container on ``device`` (the image's
    THEANO_FLAGS otherwise); returns its metrics.json."""
    res = run(
        image,
        'bash',
        '-c',
        'export THEANO_FLAGS="${THEANO_FLAGS/'
        'device=opencl0:0/device=%s}"; seq2seq-lasagne train --model %s '
        '--samples %d --val-interval %d --val-size %d --seed %d '
        '--no-progress --out /tmp/run > /dev/null && '
        'cat /tmp/run/metrics.json'
        % (device, model, SAMPLES, VAL_INTERVAL, VAL_SIZE, SEED),
        check=False,
        timeout=1800,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(res.stdout)


@pytest.mark.parametrize('model', ['baseline', 'attention'])
def test_training_on_opencl_matches_the_cpu(opencl, model, capsys):
    gpu = train(opencl, model, 'opencl0:0')
    cpu = train(opencl, model, 'cpu')
    assert gpu['theano']['device'] == 'opencl0:0'
    assert cpu['theano']['device'] == 'cpu'
    costs = [
        (g['cost'], c['cost']) for g, c in zip(gpu['history'], cpu['history'])
    ]
    assert len(costs) == SAMPLES // VAL_INTERVAL
    worst = max(abs(g - c) / abs(c) for g, c in costs)
    record(
        'opencl_vs_cpu_%s' % model,
        {
            'costs_opencl': [g for g, _ in costs],
            'costs_cpu': [c for _, c in costs],
            'max_rel_diff': worst,
            'rtol': RTOL,
            'samples_per_second': {
                'opencl': gpu['train_samples_per_second'],
                'cpu': cpu['train_samples_per_second'],
            },
        },
    )
    with capsys.disabled():
        print(
            '\n[container] %s: opencl0:0 vs cpu costs %s, largest '
            'relative difference %.2e' % (model, costs, worst)
        )
    assert worst <= RTOL, costs
    # The costs must move: a run that did not train would also "agree".
    assert costs[0][1] != costs[-1][1]
