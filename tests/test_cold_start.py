"""benchmarks/cold_start.py: how a cold start's time is split."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def cold_start():
    spec = importlib.util.spec_from_file_location(
        'cold_start', os.path.join(ROOT, 'benchmarks', 'cold_start.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_gxx_time_counts_each_second_once(cold_start):
    run = {
        'import_s': 2.0,
        'first_step_begins_s': 20.0,
        # Overlapping runs from two threads, one inside another, one
        # begun before the import ended, one after the first step.
        'gxx_runs': [
            [5.0, 9.0],
            [1.0, 3.0],
            [6.0, 8.0],
            [8.5, 12.0],
            [19.0, 25.0],
        ],
    }
    # g++ ran over 2-3, 5-12 and 19-20: 9 of the 18 seconds.
    assert cold_start.no_gxx_s(run) == pytest.approx(9.0)
    assert cold_start.no_gxx_s(dict(run, gxx_runs=[])) == pytest.approx(18.0)


def test_the_summary_has_it_only_where_every_round_recorded_it(cold_start):
    def run(round_, gxx):
        out = {
            'target': 'attention',
            'round': round_,
            'import_s': 1.0,
            'first_step_begins_s': 11.0,
            'first_step_s': 12.0,
            'cpu_s': 20.0,
            'modules_compiled': 3,
            'compile_calls': [{'s': 9.0}],
            'load_before': [1.0],
            'load_after': [1.0],
        }
        if gxx is not None:
            out['gxx_runs'] = gxx
        return out

    both = [run(0, [[1.0, 5.0]]), run(1, [[1.0, 3.0]])]
    summary = cold_start.summarise(both, ['attention'])
    assert summary['attention']['no_gxx_s'] == pytest.approx(7.0)
    older = cold_start.summarise([run(0, None)], ['attention'])
    assert 'no_gxx_s' not in older['attention']
