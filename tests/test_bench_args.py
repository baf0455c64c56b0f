"""benchmarks/bench_args.py: the command-line pieces the benchmark scripts
share, and the one-line errors the scripts give with them."""

import argparse
import datetime
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'benchmarks')


@pytest.fixture(scope='module')
def bench_args():
    spec = importlib.util.spec_from_file_location(
        'bench_args', os.path.join(BENCH, 'bench_args.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Stop(Exception):
    pass


def _error(message):
    raise Stop(message)


def test_timing_options_reach_the_worker_as_they_were_given(bench_args):
    driver = argparse.ArgumentParser()
    bench_args.add_timing_options(driver, steps=50, warmup=5, val_repeats=2)
    args = driver.parse_args(['--steps', '7', '--val-repeats', '4'])
    passed = bench_args.timing_arguments(
        args, 'steps', 'warmup', 'val_repeats'
    )
    assert passed == ['--steps', '7', '--warmup', '5', '--val-repeats', '4']
    worker = argparse.ArgumentParser()
    bench_args.add_timing_options(worker, steps=1, warmup=1, val_repeats=1)
    again = worker.parse_args(passed)
    assert (again.steps, again.warmup, again.val_repeats) == (7, 5, 4)


def test_names_are_split_and_an_unknown_one_is_named(bench_args):
    known = ('baseline', 'attention')
    assert bench_args.name_list(_error, 'attention,,baseline', known, 'm') == [
        'attention',
        'baseline',
    ]
    with pytest.raises(Stop) as stop:
        bench_args.name_list(_error, 'attention,gru', known, 'model')
    assert str(stop.value) == (
        "unknown model 'gru' (known: baseline, attention)"
    )


def test_the_first_count_below_its_minimum_is_named(bench_args):
    args = argparse.Namespace(steps=3, rounds=0, warmup=-1)
    with pytest.raises(Stop) as stop:
        bench_args.at_least(_error, args, steps=1, rounds=1, warmup=0)
    assert str(stop.value) == '--rounds must be at least 1'
    bench_args.at_least(_error, args, steps=3)


def test_a_worker_result_or_why_there_is_none(bench_args):
    def proc(code, out, err=''):
        return subprocess.CompletedProcess([], code, out, err)

    mark = 'RESULT '
    ok = proc(0, 'noise\nRESULT {"a": 1}\nRESULT {"a": 2}\n')
    assert bench_args.marked_result(ok, mark) == {'a': 2}
    failed = proc(1, 'RESULT {"a": 1}\n', 'Traceback\nValueError: no')
    assert bench_args.marked_result(failed, mark) == {
        'error': 'exit 1: Traceback\nValueError: no'
    }
    silent = proc(0, 'nothing marked\n')
    assert 'error' in bench_args.marked_result(silent, mark)


def test_results_go_under_benchmarks_results_by_default(bench_args):
    started = datetime.datetime(2026, 12, 1, 2, 3)
    assert bench_args.default_out('x', started) == os.path.join(
        BENCH, 'results', 'x-20261201-0203.json'
    )


@pytest.mark.parametrize(
    'script, args, message',
    [
        ('cold_start.py', ['--targets', 'nope'], "unknown target 'nope'"),
        ('cold_start.py', ['--rounds', '0'], '--rounds must be at least 1'),
        ('bench_training.py', ['--peers', 'torch'], "unknown peer 'torch'"),
        ('bench_training.py', ['--levers', 'x'], "unknown lever 'x'"),
        ('bench_training.py', ['--threads', '0'], '--threads must be at'),
    ],
)
def test_scripts_refuse_bad_arguments_in_one_line(script, args, message):
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, script)] + args,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert message in proc.stderr.strip().splitlines()[-1], proc.stderr
