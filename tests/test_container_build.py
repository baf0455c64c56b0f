"""scripts/build_image.sh on bad input: one line on stderr, non-zero exit.

The checks past the argument and podman need podman and its store, which
the build installs and fills: those are marked ``container`` (run by
.ci/run after the images are built).  Also the parsing of /etc/apt
(scripts/debian_sources.py) on made-up trees.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / 'scripts' / 'build_image.sh'
SOURCES = ROOT / 'scripts' / 'debian_sources.py'


def build(*args, env=None, prefix=(), timeout=300):
    res = subprocess.run(
        [*prefix, 'bash', str(BUILD), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
    )
    return res


def one_error_line(res):
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith('build_image.sh: error: '), lines[0]
    assert res.stdout == ''
    return lines[0]


def test_unknown_variant():
    res = build('teacher')
    assert res.returncode == 2
    assert "unknown variant 'teacher'" in one_error_line(res)


def test_no_podman_and_not_root(tmp_path):
    """As an ordinary user on a PATH without podman: says what to install."""
    if os.geteuid() != 0 or shutil.which('setpriv') is None:
        pytest.skip('needs root and setpriv to run as another user')
    # pytest's own temporary directories are private to root.
    tmp_path = Path(tempfile.mkdtemp(prefix='s2s-nopodman-'))
    tmp_path.chmod(0o755)
    bin_ = tmp_path / 'bin'
    bin_.mkdir()
    for directory in ('/usr/bin', '/bin'):
        for tool in Path(directory).iterdir():
            if tool.name in ('podman', 'runc', 'debootstrap'):
                continue
            if not (bin_ / tool.name).exists():
                (bin_ / tool.name).symlink_to(tool)
    # A copy of the scripts: the checkout may be private to root too.
    scripts = shutil.copytree(ROOT / 'scripts', tmp_path / 'scripts')
    res = subprocess.run(
        [
            'setpriv',
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            'env',
            'PATH=%s' % bin_,
            'HOME=%s' % tmp_path,
            'bash',
            str(scripts / 'build_image.sh'),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    line = one_error_line(res)
    assert 'podman' in line and 'not found' in line
    shutil.rmtree(tmp_path)


def podman_present():
    if shutil.which('podman') is None:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('podman is missing (CI builds the images first)')
        pytest.skip(
            'podman is not installed (scripts/build_image.sh '
            'installs it as root)'
        )


@pytest.mark.container
def test_no_debian_source(tmp_path):
    """The base must be made, and /etc/apt names no Debian source."""
    podman_present()
    (tmp_path / 'etc' / 'apt').mkdir(parents=True)
    res = build(
        env={
            'S2S_APT_ROOT': str(tmp_path),
            'S2S_BASE_IMAGE': 'localhost/s2s-test-no-such-base:x',
            'S2S_IMAGE_CACHE': str(tmp_path / 'cache'),
        }
    )
    assert res.returncode == 1
    assert (
        'no Debian bookworm source in %s/etc/apt' % tmp_path
        in one_error_line(res)
    )


@pytest.mark.container
def test_no_network(tmp_path):
    """In a network namespace of its own: no mirror answers."""
    podman_present()
    if os.geteuid() != 0 or shutil.which('unshare') is None:
        pytest.skip('needs root and unshare for a namespace without network')
    res = build(
        prefix=['unshare', '--net'],
        env={'S2S_IMAGE_CACHE': str(tmp_path / 'cache')},
    )
    assert res.returncode == 1
    # Progress lines (the base found in podman's store) may come first; the
    # error is one line, the last.
    lines = res.stderr.strip().splitlines()
    errors = [x for x in lines if x.startswith('build_image.sh: error: ')]
    assert errors == lines[-1:], res.stderr
    assert 'build_image.sh: error: no network: ' in errors[0]


# /etc/apt parsing ----------------------------------------------------------


def sources(root, what):
    return subprocess.run(
        [sys.executable, str(SOURCES), '--root', str(root), what],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debian_sources_reads_both_formats(tmp_path):
    apt = tmp_path / 'etc' / 'apt'
    (apt / 'sources.list.d').mkdir(parents=True)
    (apt / 'sources.list').write_text(
        '# a comment\n'
        'deb [arch=amd64] http://mirror.invalid/debian bookworm main contrib\n'
        'deb-src http://mirror.invalid/debian bookworm main\n'
    )
    (apt / 'sources.list.d' / 'other.sources').write_text(
        'Types: deb\nURIs: http://vendor.invalid/apt\nSuites: stable\n'
        'Components: main\n\n'
        'Types: deb\nURIs: http://security.invalid/debian-security\n'
        'Suites: bookworm-security\nComponents: main\n\n'
        'Enabled: no\nTypes: deb\nURIs: http://off.invalid/debian\n'
        'Suites: bookworm-updates\nComponents: main\n'
    )
    res = sources(tmp_path, 'mirror')
    assert res.stdout.strip() == 'http://mirror.invalid/debian'
    text = sources(tmp_path, 'sources').stdout
    assert 'URIs: http://mirror.invalid/debian\nSuites: bookworm\n' in text
    assert 'Suites: bookworm-security' in text
    assert 'vendor.invalid' not in text and 'off.invalid' not in text


def test_debian_sources_without_a_debian_source(tmp_path):
    (tmp_path / 'etc' / 'apt').mkdir(parents=True)
    (tmp_path / 'etc' / 'apt' / 'sources.list').write_text(
        'deb http://vendor.invalid/apt stable main\n'
    )
    res = sources(tmp_path, 'mirror')
    assert res.returncode == 1
    assert res.stderr.startswith(
        'debian_sources: error: no Debian bookworm source in '
    )
