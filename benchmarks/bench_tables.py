"""Console tables of a benchmark run, from the driver's summary.

Used after a run and by ``bench_training.py --report FILE``, which prints
the tables of a saved result without running anything.
"""

from bench_config import BATCH, DIGITS, TORCH_VARIANTS


def print_tables(driver, summary):
    """Print the summary of a run (or of a saved result) as tables."""
    p = driver.log
    p('\n' + '=' * 78)
    p(
        'Training speed, batch %d, %d digits (median of %d x %d steps%s)'
        % (
            BATCH,
            DIGITS,
            driver.args.repeats,
            driver.args.steps,
            ', median over %d rounds' % driver.args.rounds
            if driver.args.rounds > 1
            else '',
        )
    )
    p(
        '%-30s %9s %7s %8s %7s %9s %6s'
        % (
            'configuration',
            'samples/s',
            'ratio',
            'val (s)',
            'ratio',
            'full (min)',
            'val %',
        )
    )
    for model, m in summary['models'].items():
        base = m['default']
        if not base:
            p('%-30s (failed)' % ('theano ' + model))
            continue
        p(
            '%-30s %9.0f %7s %8.2f %7s %9.1f %5.0f%%'
            % (
                'theano %s default' % model,
                base['samples_per_s'],
                '1.00',
                base['val_s'],
                '1.00',
                base['projected_total_s'] / 60,
                100 * base['validation_share'],
            )
        )
        for name, lv in m['levers'].items():
            r = driver.find('theano %s %s' % (model, name))
            p(
                '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                % (
                    '  ' + name,
                    lv['samples_per_s'],
                    lv['speed_ratio_vs_default'],
                    lv['val_s'],
                    lv['val_ratio_vs_default'],
                    lv['projected_total_s'] / 60,
                    100 * r['validation_share'],
                )
            )
        t = driver.find('torch %s' % model)
        if t:
            p(
                '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                % (
                    'torch %s (%d thr)' % (model, t['torch']['num_threads']),
                    t['samples_per_s'],
                    t['samples_per_s'] / base['samples_per_s'],
                    t['val_s'],
                    t['val_s'] / base['val_s'],
                    t['projected_total_s'] / 60,
                    100 * t['validation_share'],
                )
            )
        for name in TORCH_VARIANTS:
            tv = driver.find('torch %s %s' % (model, name))
            if tv:
                p(
                    '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                    % (
                        '  ' + name,
                        tv['samples_per_s'],
                        tv['samples_per_s'] / base['samples_per_s'],
                        tv['val_s'],
                        tv['val_s'] / base['val_s'],
                        tv['projected_total_s'] / 60,
                        100 * tv['validation_share'],
                    )
                )
    p(
        '(ratio: samples/s, or validation time, relative to the Theano '
        'default of the model)'
    )
    if any(m['torch'] for m in summary['models'].values()):
        p('\nTheano / PyTorch samples/s (Theano default flags):')
        for model, m in summary['models'].items():
            if not m['torch']:
                continue
            parts = [
                '%d threads %.2f'
                % (
                    m['torch']['num_threads'],
                    m['torch']['theano_over_torch_samples_per_s'],
                )
            ]
            parts += [
                '%s %.2f' % (name, v['theano_over_torch_samples_per_s'])
                for name, v in m['torch']['variants'].items()
            ]
            p('  %-10s %s' % (model, ', '.join(parts)))
            faster = [
                (lv['samples_per_s'], name)
                for name, lv in m['levers'].items()
                if lv['speed_ratio_vs_default'] > 1.05
            ]
            if faster:
                rate, name = max(faster)
                p(
                    '  %-10s with lever %s: %d threads %.2f'
                    % (
                        '',
                        name,
                        m['torch']['num_threads'],
                        rate / m['torch']['samples_per_s'],
                    )
                )
        p(
            'PyTorch sanity (cost over the measured steps): '
            + ', '.join(
                '%s %.3f -> %.3f %s'
                % (
                    model,
                    m['torch']['cost_first'],
                    m['torch']['cost_last'],
                    'learns' if m['torch']['learns'] else 'DOES NOT LEARN',
                )
                for model, m in summary['models'].items()
                if m['torch']
            )
        )
    elif driver.torch_status:
        p('\n' + driver.torch_status)
    if any(m['compile']['cold_s'] for m in summary['models'].values()):
        p('\nCompile time of train_fn + test_fn (s): cold / warm')
        for model, m in summary['models'].items():
            c = m['compile']
            if c['cold_s'] is not None:
                p(
                    '  %-10s %7.1f / %6.1f   (whole worker process: '
                    '%.1f / %.1f)'
                    % (
                        model,
                        c['cold_s'],
                        c['warm_s'] or 0,
                        c['cold_worker_s'],
                        c['warm_worker_s'] or 0,
                    )
                )
    full = summary.get('full_run')
    if full:
        p(
            '\nFull attention run: %.0f s wall (%.0f s training, %.0f s '
            'validation, %.0f s compile), projected %.0f s; final '
            'validation accuracy %.3f'
            % (
                full['measured_wall_s'],
                full['train_seconds'],
                full['validation_seconds'],
                full['compile_seconds'],
                full.get('projected_total_s', float('nan')),
                full['val_accuracy'],
            )
        )
    errors = [r for r in driver.results if 'error' in r]
    for r in errors:
        p('\nERROR in %s:\n%s' % (r['label'], r['error']))
