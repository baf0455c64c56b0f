"""The attention plateau: when a run has left it, the statistics over seeds,
and the message a run still on it gets (CLI and notebook)."""

import json
import os

import nbformat
import pytest

from seq2seq_lasagne import plateau
from seq2seq_lasagne.cli import main
from seq2seq_lasagne.reporting import plateau_runs_table, plateau_table
from seq2seq_lasagne.reproduce import summarise
from seq2seq_lasagne.settings import (
    PLATEAU_LEVEL,
    PLATEAU_SAMPLES,
    RunSettings,
)

NOTEBOOK = os.path.join(
    os.path.dirname(__file__), '..', 'notebooks', '02_attention_decoder.ipynb'
)


def history(*accuracies, interval=5000):
    """A run's history with one validation every ``interval`` samples."""
    return [
        {'samples': interval * (i + 1), 'val_accuracy': a, 'cost': 1.0}
        for i, a in enumerate(accuracies)
    ]


def flat(n, value=0.27, interval=5000):
    return history(*[value] * n, interval=interval)


def test_the_level_lies_between_the_plateau_and_learning():
    # The plateau is the baseline's level (about 0.26); runs that learn end
    # near 0.9: the level must separate them.
    assert 0.3 < PLATEAU_LEVEL < 0.6
    assert PLATEAU_SAMPLES % RunSettings().val_interval == 0
    assert 0 < PLATEAU_SAMPLES < RunSettings(model='attention').samples


def test_exit_samples_is_the_first_validation_at_the_level():
    h = history(0.26, 0.3, PLATEAU_LEVEL - 1e-6, PLATEAU_LEVEL, 0.7, 0.35)
    assert plateau.exit_samples(h) == 20000
    assert plateau.left_plateau(h)
    assert plateau.exit_samples(h, level=0.65) == 25000
    assert plateau.exit_samples(flat(30)) is None
    assert not plateau.left_plateau(flat(30))
    assert plateau.exit_samples([]) is None
    # (samples, accuracy) pairs, as the notebook keeps them
    assert plateau.exit_samples([(100, 0.1), (200, 0.5)]) == 200


def test_stuck_only_past_the_threshold_and_only_if_never_left():
    n = PLATEAU_SAMPLES // 5000
    assert not plateau.stuck(flat(n - 1))
    assert plateau.stuck(flat(n))
    assert plateau.stuck(flat(n + 5))
    # Left once, then dipped: not stuck (the saw-tooth of a learning run).
    assert not plateau.stuck(history(*([0.27] * 3 + [0.5] + [0.3] * n)))
    assert plateau.stuck(flat(4), after=20000)
    assert not plateau.stuck(flat(4), after=25000)
    assert not plateau.stuck([])


def test_threshold_is_the_validation_at_the_90th_percentile_of_exits():
    exits = [10000 * k for k in range(1, 11)] + [None, None]
    # the 90th percentile of 10k..100k is 91000; validations every 5000
    assert plateau.threshold(exits, 5000) == 95000
    assert plateau.threshold(exits, 1000) == 91000
    assert plateau.threshold([35000, 40000], 5000) == 40000
    with pytest.raises(ValueError):
        plateau.threshold([None, None], 5000)


def test_the_threshold_follows_from_the_measured_runs():
    path = os.path.join(
        os.path.dirname(__file__),
        '..',
        'docs',
        'results',
        'plateau',
        'summary.json',
    )
    with open(path) as f:
        measured = json.load(f)['attention']['plateau']
    assert measured['runs'] >= 20
    expected = plateau.threshold(
        measured['exit_samples'], RunSettings().val_interval
    )
    assert PLATEAU_SAMPLES == expected
    assert measured['after'] == PLATEAU_SAMPLES


def test_advice_names_the_figures_and_what_to_do():
    n = PLATEAU_SAMPLES // 5000
    assert plateau.advice(flat(n - 1)) is None
    h = history(*([0.25] * (n - 1) + [0.281]))
    message = plateau.advice(h)
    assert str(PLATEAU_SAMPLES) in message
    assert 'best 0.281' in message and '%.2f' % PLATEAU_LEVEL in message
    for remedy in ('--samples', '--seed', 'docs/PLATEAU.md'):
        assert remedy in message
    notebook = plateau.advice(h, where='notebook')
    for remedy in ('SAMPLES_TO_PROCESS', 'SEED'):
        assert remedy in notebook
    assert '--seed' not in notebook


def test_the_threshold_applies_to_the_notebooks_settings_only():
    attention = RunSettings(model='attention')
    assert plateau.applies(attention)
    # Settings that do not change a training step keep it.
    assert plateau.applies(
        attention.replace(
            seed=7, samples=10**6, val_size=100, val_interval=100
        )
    )
    assert plateau.applies(attention.replace(unroll_scan=True))
    assert plateau.applies(attention.replace(fused_attention=True))
    assert plateau.applies(attention.replace(fused_gru=True))
    assert not plateau.applies(RunSettings(model='baseline'))
    for change in (
        {'min_digits': 3, 'max_digits': 3},
        {'learning_rate': 0.001},
        {'encoder': 'bidirectional'},
        {'decoder_mask': True},
        {'num_units_dec': 20},
    ):
        assert not plateau.applies(attention.replace(**change)), change
    stuck = flat(PLATEAU_SAMPLES // 5000)
    assert plateau.check(attention, stuck)
    assert plateau.check(RunSettings(model='baseline'), stuck) is None
    short = attention.replace(min_digits=3, max_digits=3)
    assert plateau.check(short, stuck) is None
    # An explicit threshold applies to any attention run.
    assert plateau.check(short, flat(2), after=10000)
    assert plateau.check(short, flat(1), after=10000) is None


def test_show_hint_prints_under_the_plot_only_when_due(capsys):
    n = PLATEAU_SAMPLES // 5000
    samples = [5000 * (i + 1) for i in range(n)]
    assert plateau.show_hint(samples[:-1], [0.27] * (n - 1)) is None
    assert capsys.readouterr().out == ''
    message = plateau.show_hint(samples, [0.27] * n)
    out = capsys.readouterr().out
    assert out.startswith('Note: this attention run is still on the plateau')
    assert message in out and 'SEED' in out
    assert plateau.show_hint(samples, [0.27] * (n - 1) + [0.8]) is None


def test_statistics_over_runs():
    runs = [
        history(0.26, 0.45, 0.8, 0.9),  # left at 10000
        history(0.26, 0.3, 0.3, 0.5),  # left at 20000
        history(0.26, 0.27, 0.28, 0.29),  # never
        history(0.42, 0.6, 0.7, 0.85),  # left at 5000
    ]
    stats = plateau.statistics(runs, after=15000)
    assert stats['runs'] == 4 and stats['left'] == 3
    assert stats['exit_samples'] == [10000, 20000, None, 5000]
    assert stats['exit_median'] == 10000 and stats['exit_max'] == 20000
    assert stats['exit_p75'] == 15000
    assert stats['left_by_after'] == 2
    assert stats['stuck_at_after'] == 2  # the late one and the stuck one
    assert stats['final_left'] == [0.9, 0.5, 0.85]
    assert stats['final_stuck'] == [0.29]
    none = plateau.statistics([flat(3)], after=5000)
    assert none['left'] == 0 and none['exit_median'] is None
    assert none['stuck_at_after'] == 1


def write_run(root, seed, accuracies):
    run_dir = os.path.join(root, 'attention', 'seed_%d' % seed)
    os.makedirs(run_dir)
    h = history(*accuracies)
    metrics = {
        'val_accuracy': accuracies[-1],
        'best_val_accuracy': max(accuracies),
        'history': h,
        'accuracy_per_position': [0.5] * 21,
        'samples_processed': h[-1]['samples'],
        'wall_seconds': 1.0,
        'train_samples_per_second': 1.0,
        'interrupted': False,
    }
    with open(os.path.join(run_dir, 'metrics.json'), 'w') as f:
        json.dump(metrics, f)


def test_reproduce_summary_and_tables_carry_the_plateau(tmp_path):
    root = str(tmp_path)
    write_run(root, 0, [0.26, 0.5, 0.85])
    write_run(root, 1, [0.26, 0.27, 0.28])
    write_run(root, 2, [0.3, 0.45, 0.9])
    summary, _ = summarise(root, ['attention'], [0, 1, 2, 3])
    entry = summary['attention']
    assert entry['left_plateau'] == [True, False, True]
    stats = entry['plateau']
    assert stats['exit_samples'] == [10000, None, 10000]
    assert stats['level'] == PLATEAU_LEVEL
    with open(os.path.join(root, 'summary.json')) as f:
        assert json.load(f)['attention']['plateau'] == stats
    table = plateau_table([("the notebook's", stats)])
    row = table.splitlines()[2]
    assert row.startswith("| the notebook's | 3 | 2 | 10000 / 10000 /")
    assert row.endswith('| 0.875 (0.850–0.900) | 0.280 |')
    runs = plateau_runs_table(entry).splitlines()
    assert runs[2:] == [
        '| 0 | 10000 | 0.850 |',
        '| 2 | 10000 | 0.900 |',
        '| 1 | never | 0.280 |',
    ]
    assert plateau_table([]) == ''
    assert plateau_runs_table({'seeds': [1]}) == ''


@pytest.fixture
def cli_trainer(monkeypatch, short_attention):
    """The CLI's ``train`` reuses the session's compiled 3-digit attention
    trainer (re-initialised from the run's seed, as a new one would be)."""

    def build(settings):
        assert (settings.model, settings.max_digits) == ('attention', 3)
        short_attention.reset(settings.seed)
        return short_attention

    monkeypatch.setattr('seq2seq_lasagne.experiment.build_trainer', build)


def train_cli(capsys, out, *extra):
    code = main(
        [
            'train',
            '--model',
            'attention',
            '--min-digits',
            '3',
            '--max-digits',
            '3',
            '--samples',
            '300',
            '--val-interval',
            '100',
            '--val-size',
            '100',
            '--out',
            str(out),
        ]
        + list(extra)
    )
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_train_says_when_a_run_is_still_on_the_plateau(
    capsys, tmp_path, cli_trainer
):
    # Three Adam steps cannot leave the plateau: past --plateau-after the
    # progress line, a logged line and the final line say so.
    code, out, err = train_cli(
        capsys, tmp_path / 'stuck', '--plateau-after', '200'
    )
    assert code == 0
    final, note = out.strip().splitlines()
    assert final.startswith('attention: 300 samples, final validation')
    assert note.startswith('plateau: this attention run is still on the')
    assert 'after 300 samples' in note and 'by 200 samples' in note
    assert '--seed' in note
    assert 'note=%s' % plateau.PROGRESS_NOTE in err  # the progress bar
    # Logged once, when the run passed the threshold.
    logged = [line for line in err.splitlines() if 'plateau:' in line]
    assert len(logged) == 1 and 'after 200 samples' in logged[0]

    # Before the threshold, or at other settings by default: nothing.
    code, out, err = train_cli(
        capsys, tmp_path / 'early', '--plateau-after', '400', '--no-progress'
    )
    assert code == 0 and 'plateau' not in out + err
    code, out, err = train_cli(capsys, tmp_path / 'other', '--no-progress')
    assert code == 0 and 'plateau' not in out + err


def test_train_rejects_a_bad_plateau_threshold(capsys):
    code = main(['train', '--plateau-after', '0', '--out', 'x'])
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1
    assert '--plateau-after' in err


def test_the_notebook_live_plot_calls_the_watch():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    live = [c for c in nb.cells if 'display.clear_output' in c.source]
    assert len(live) == 1
    lines = live[0].source.splitlines()
    added = [line for line in lines if '# added' in line]
    assert added == [
        'watch = PlateauWatch(PLATEAU_RESTARTS, all_parameters, updates, '
        'SEED)  # added (CHANGES.md)',
        '            watch(val_samples, accs)  # added: says when the run '
        'is still on the plateau',
    ]
    # Under the plot, at every validation.
    assert lines.index(added[1]) == lines.index('            plt.show()') + 1
    imports = nb.cells[1].source
    assert 'from seq2seq_lasagne.plateau import PlateauWatch' in imports
    parameters = [
        c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])
    ][0].source
    assert 'PLATEAU_RESTARTS = settings.plateau_restarts' in parameters
    changes = os.path.join(os.path.dirname(NOTEBOOK), 'CHANGES.md')
    with open(changes) as f:
        text = f.read()
    assert 'PlateauWatch' in text and 'PLATEAU_RESTARTS' in text


def test_the_watch_restarts_the_notebooks_model(capsys):
    import lasagne
    import numpy as np

    from seq2seq_lasagne.models import build_attention, build_seeded
    from seq2seq_lasagne.seeding import restart_seed

    # The notebook's parameters and Adam updates (built, not compiled).
    model = build_attention(max_digits=3)
    params = model.trainable_params()
    output = model.get_output()
    cost = output.mean()
    updates = lasagne.updates.adam(cost, params, learning_rate=0.005)
    moments = [v for v in updates if v not in set(params)]
    for var in params + moments:
        var.set_value(np.ones_like(var.get_value()))
    n = PLATEAU_SAMPLES // 5000
    samples = [5000 * (i + 1) for i in range(2 * n)]
    watch = plateau.PlateauWatch(1, params, updates, seed=7)
    assert watch(samples[: n - 1], [0.27] * (n - 1)) is None
    message = watch(samples[:n], [0.27] * n)
    seed = restart_seed(7, 1)
    assert 'restart 1 of 1' in message and 'seed %d' % seed in message
    fresh = build_seeded('attention', seed).trainable_params()
    for mine, new in zip(params, fresh):
        np.testing.assert_array_equal(mine.get_value(), new.get_value())
    for var in moments:
        assert not np.any(var.get_value())
    assert (watch.attempt, watch.start) == (1, samples[n - 1])
    # The new attempt counts from its start; stuck again, it is told.
    assert watch(samples[: 2 * n - 1], [0.27] * (2 * n - 1)) is None
    message = watch(samples, [0.27] * (2 * n))
    assert message.startswith('Note: this attention run is still on')
    assert 'after %d samples' % PLATEAU_SAMPLES in message
    assert capsys.readouterr().out.count('Note: ') == 2
    with pytest.raises(ValueError):
        plateau.PlateauWatch(1)


def test_restart_seeds_are_fixed_and_new():
    from seq2seq_lasagne.seeding import restart_seed

    seeds = {restart_seed(s, a) for s in range(20) for a in (1, 2)}
    assert len(seeds) == 40 and not seeds & set(range(1000))
    assert restart_seed(3, 1) == restart_seed(3, 1)
    with pytest.raises(ValueError):
        restart_seed(3, 0)


def test_attempts_of_a_history():
    h = history(0.27, 0.27, 0.27) + [
        {'samples': 20000, 'val_accuracy': 0.3, 'attempt': 1},
        {'samples': 25000, 'val_accuracy': 0.5, 'attempt': 1},
    ]
    assert plateau.attempt_of(h) == (1, 15000)
    assert plateau.attempt_of(h[:3]) == (0, 0)
    assert plateau.attempt_of([]) == (0, 0)
    assert [p['samples'] for p in plateau.current_attempt(h)] == [5000, 10000]
    settings = RunSettings(model='attention', plateau_restarts=1)
    n = PLATEAU_SAMPLES // 5000
    assert plateau.restart_due(settings, flat(n))
    assert not plateau.restart_due(settings, flat(n - 1))
    assert not plateau.restart_due(
        settings.replace(plateau_restarts=0), flat(n)
    )
    # No restart left: the second attempt is told instead.
    second = [dict(p, samples=p['samples'] + 5000, attempt=1) for p in flat(n)]
    assert not plateau.restart_due(settings, flat(1) + second)
    assert plateau.check(settings, flat(1) + second)
    assert plateau.check(settings, flat(n)) is None  # it restarts instead


def test_plateau_restarts_is_an_attention_option():
    with pytest.raises(ValueError, match='attention'):
        RunSettings(plateau_restarts=1)
    with pytest.raises(ValueError, match='plateau-restarts'):
        RunSettings(model='attention', plateau_restarts=-1)
    assert RunSettings().plateau_restarts == 0  # the notebook's recipe


def small(**changes):
    base = dict(
        model='attention',
        samples=300,
        seed=5,
        min_digits=3,
        max_digits=3,
        val_size=100,
        val_interval=100,
    )
    base.update(changes)
    return RunSettings(**base)


def curve(metrics):
    return [
        (h['samples'], h['val_accuracy'], h['cost'], h.get('attempt', 0))
        for h in metrics['history']
    ]


@pytest.mark.slow
def test_a_run_restarts_once_on_the_plateau_and_resumes_exactly(
    monkeypatch, tmp_path, short_attention
):
    from seq2seq_lasagne.experiment import train_run
    from seq2seq_lasagne.seeding import restart_seed

    # A threshold of 200 samples: three Adam steps never leave the plateau.
    monkeypatch.setattr('seq2seq_lasagne.settings.PLATEAU_SAMPLES', 200)
    lines = []
    restarted = train_run(
        str(tmp_path / 'restart'),
        small(plateau_restarts=1),
        trainer=short_attention,
        progress=False,
        log=lines.append,
        plateau_after=200,
    )
    points = curve(restarted)
    assert [p[0] for p in points] == [100, 200, 300, 400, 500]
    assert [p[3] for p in points] == [0, 0, 1, 1, 1]
    assert restarted['samples_processed'] == 500
    seed = restart_seed(5, 1)
    assert restarted['attempts'] == [
        {'attempt': 0, 'seed': 5, 'start': 0},
        {'attempt': 1, 'seed': seed, 'start': 200},
    ]
    assert any('seed %d, restart 1 of 1' % seed in line for line in lines)
    # The second attempt stays on the plateau too: now it is told.
    assert any('still on the plateau: after 200' in line for line in lines)

    # Before the restart, the run is the recipe's own run.
    plain = train_run(
        str(tmp_path / 'plain'),
        small(),
        trainer=short_attention,
        progress=False,
        log=lines.append,
    )
    assert curve(plain)[:2] == points[:2]
    # After it, the training is a run of the derived seed (same weights,
    # same batches: the same costs; the validation set is the run's own).
    fresh = train_run(
        str(tmp_path / 'fresh'),
        small(seed=seed),
        trainer=short_attention,
        progress=False,
        log=lines.append,
    )
    assert [p[2] for p in points[2:]] == [p[2] for p in curve(fresh)]

    # Interrupted right after the restart: the run resumes exactly.
    def interrupt(state):
        if state.samples_processed == 300:
            raise KeyboardInterrupt

    part = str(tmp_path / 'part')
    first = train_run(
        part,
        small(plateau_restarts=1),
        trainer=short_attention,
        progress=False,
        log=lines.append,
        on_validation=interrupt,
    )
    assert first['interrupted']
    again = train_run(
        part,
        small(plateau_restarts=1),
        trainer=short_attention,
        progress=False,
        log=lines.append,
    )
    assert curve(again) == points
    assert again['attempts'] == restarted['attempts']


def test_train_rejects_restarts_for_the_baseline(capsys):
    code = main(['train', '--plateau-restarts', '1', '--out', 'x'])
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and 'attention' in err


def _study_script(name='plateau_study'):
    import importlib.util

    path = os.path.join(
        os.path.dirname(__file__), '..', 'scripts', name + '.py'
    )
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_study_workers_get_one_thread_and_a_cache_each(monkeypatch, tmp_path):
    study = _study_script()
    monkeypatch.setenv('THEANO_FLAGS', 'floatX=float32')
    monkeypatch.setenv('OMP_NUM_THREADS', '8')
    envs = [study._worker_env(str(tmp_path), slot) for slot in (0, 1)]
    caches = []
    for env in envs:
        flags = env['THEANO_FLAGS'].split(',')
        assert flags[0] == 'floatX=float32'  # the user's flags kept
        (cache,) = [f for f in flags if f.startswith('base_compiledir=')]
        caches.append(cache.split('=', 1)[1])
        assert env['OMP_NUM_THREADS'] == env['OPENBLAS_NUM_THREADS'] == '1'
    assert caches[0] != caches[1]
    assert all(c.startswith(str(tmp_path)) for c in caches)


def test_study_rejects_bad_arguments(capsys, tmp_path):
    study = _study_script()
    for argv in (
        ['--seeds', '0', '--budget', '60'],  # a budget needs workers
        ['--seeds', '0', '--jobs', '0'],
        ['--seeds', '-1'],
    ):
        with pytest.raises(SystemExit) as exc:
            study.main(['--out', str(tmp_path)] + argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2
        assert err.splitlines()[-1].startswith('plateau_study: error:')


def test_study_json_keeps_only_finished_runs(tmp_path):
    study = _study_script()
    root = str(tmp_path)
    for seed, accuracies in ((0, [0.26, 0.5]), (1, [0.26, 0.27])):
        write_run(root, seed, accuracies)
        run_dir = os.path.join(root, 'attention', 'seed_%d' % seed)
        with open(os.path.join(run_dir, 'diagnostics.json'), 'w') as f:
            json.dump({'seed': seed, 'records': [{'samples': 0}]}, f)
    # seed 1 was stopped by the budget; seed 2 never started
    path = os.path.join(root, 'attention', 'seed_1', 'metrics.json')
    with open(path) as f:
        metrics = json.load(f)
    with open(path, 'w') as f:
        json.dump(dict(metrics, interrupted=True), f)
    quick = {'val_interval': 5000}
    gathered = study.gather(root, [0, 1, 2], 'cmd', 10000, quick)
    assert list(gathered['runs']) == ['0']
    assert gathered['unfinished'] == [1, 2]
    run = gathered['runs']['0']
    assert run['exit_samples'] == 10000 and run['final'] == 0.5
    assert run['curve'] == [[5000, 0.26], [10000, 0.5]]
    assert gathered['samples'] == 10000
    assert gathered['_run']['command'] == 'cmd'
    # More samples asked than trained: not finished.
    assert study.gather(root, [0], None, 15000, quick)['unfinished'] == [0]


def test_study_takes_exits_from_full_runs_that_it_begins(tmp_path):
    study = _study_script()
    short, full = str(tmp_path / 'study'), str(tmp_path / 'full')
    # 30 validations of 5000: the notebook's 150000 samples
    learns = [0.26] * 8 + [0.5] * 22
    write_run(full, 0, learns)
    write_run(short, 0, learns[:2])
    run_dir = os.path.join(short, 'attention', 'seed_0')
    with open(os.path.join(run_dir, 'diagnostics.json'), 'w') as f:
        json.dump({'seed': 0, 'records': [{'samples': 0}]}, f)
    gathered = study.gather(short, [0], 'cmd', 10000, None, full)
    run = gathered['runs']['0']
    assert run['exit_samples'] == 45000 and run['final'] == 0.5
    assert len(run['curve']) == 30 and gathered['full_runs'] == full
    # A full run that does not begin as the study run did is refused.
    other = str(tmp_path / 'other')
    write_run(other, 0, [0.27] + learns[1:])
    with pytest.raises(study.NotTheSameRun):
        study.gather(short, [0], 'cmd', 10000, None, other)


def test_the_restart_option_replaces_only_the_runs_due_a_restart(
    tmp_path, capsys
):
    script = _study_script('plateau_restarts')
    recipe, restarted = str(tmp_path / 'recipe'), str(tmp_path / 'restart')
    on_plateau = PLATEAU_SAMPLES // 5000
    learns = [0.26] * 3 + [0.6] * 27
    stuck = [0.26] * 30
    write_run(recipe, 0, learns)
    write_run(recipe, 1, stuck)
    # seed 1 with restarts: the same validations up to the threshold, then
    # a new attempt that learns
    again = stuck[:on_plateau] + [0.2, 0.5] + [0.8] * 28
    write_run(restarted, 1, again)
    path = os.path.join(restarted, 'attention', 'seed_1', 'metrics.json')
    with open(path) as f:
        metrics = json.load(f)
    metrics['settings'] = {'plateau_restarts': 1}
    with open(path, 'w') as f:
        json.dump(metrics, f)
    out = str(tmp_path / 'restarts.json')
    argv = ['--recipe', recipe, '--restarted', restarted, '--restarts', '1']
    assert script.main(argv + ['--seeds', '0', '1', '--json', out]) == 0
    with open(out) as f:
        result = json.load(f)
    assert result['_run']['options'] == {'plateau_restarts': 1}
    runs = result['attention']['runs']
    assert [r['source'] for r in runs] == [
        'recipe',
        'restarted at %d samples' % PLATEAU_SAMPLES,
    ]
    stats = result['attention']['plateau']
    assert stats['left'] == 2 and stats['final_stuck'] == []
    # A restarted run that does not begin as the recipe's did is refused.
    metrics['history'][0]['val_accuracy'] = 0.1
    with open(path, 'w') as f:
        json.dump(metrics, f)
    with pytest.raises(SystemExit) as exc:
        script.main(argv + ['--seeds', '1', '--json', out])
    assert exc.value.code == 2
    assert 'does not begin as the recipe run' in capsys.readouterr().err


def test_begins_as_compares_validations_point_for_point():
    full = history(0.26, 0.3, 0.5)
    assert plateau.begins_as(full, full[:2])
    assert plateau.begins_as(full, [])
    assert not plateau.begins_as(full, history(0.26, 0.31))
    assert not plateau.begins_as(full[:1], full)
