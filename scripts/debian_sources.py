"""The Debian package sources of this machine, read from /etc/apt.

scripts/build_image.sh builds the image's base with debootstrap from the
machine's own Debian mirror (no image registry is needed, and no host name
is written into the project)::

    python3 scripts/debian_sources.py mirror   # first URI serving bookworm
    python3 scripts/debian_sources.py sources  # deb822 file for the base
    python3 scripts/debian_sources.py check    # is the mirror reachable?

Both formats are read: one-line ``sources.list`` / ``*.list`` entries and
deb822 ``*.sources`` stanzas (``Enabled: no`` skipped).  Only ``deb``
entries of Debian's own suites (``bookworm``, ``bookworm-updates``,
``bookworm-security``) are kept: other vendors' repositories stay out of
the image.  ``--root DIR`` reads another tree's /etc/apt (tests).
Errors are one line on stderr and exit status 1.
"""

import argparse
import glob
import os
import sys
import urllib.error
import urllib.request

SUITE = 'bookworm'
KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'


class SourcesError(Exception):
    """No usable Debian source; the message says what was looked at."""


def _one_line_entries(text):
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] != 'deb':
            continue
        words = words[1:]
        if words and words[0].startswith('['):
            # Options such as [arch=amd64 signed-by=...], up to the "]".
            while words and not words[0].endswith(']'):
                words = words[1:]
            words = words[1:]
        if len(words) >= 3:
            yield {
                'uris': [words[0]],
                'suites': [words[1]],
                'components': words[2:],
            }


def _deb822_entries(text):
    stanza = {}
    key = None
    for line in text.splitlines() + ['']:
        if line.startswith('#'):
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza, key = {}, None
            continue
        if line[0] in ' \t' and key:
            stanza[key] += ' ' + line.strip()
            continue
        key, _, value = line.partition(':')
        key = key.strip().lower()
        stanza[key] = value.strip()


def _stanza_entry(stanza):
    if stanza.get('enabled', 'yes').lower() == 'no':
        return None
    if 'deb' not in stanza.get('types', '').split():
        return None
    return {
        'uris': stanza.get('uris', '').split(),
        'suites': stanza.get('suites', '').split(),
        'components': stanza.get('components', '').split(),
    }


def debian_entries(root='/'):
    """The ``deb`` entries of /etc/apt under ``root`` serving Debian suites.

    Returns
    -------
    list of dict
        ``{'uris': [...], 'suites': [...], 'components': [...]}``, in the
        order apt reads the files, suites other than ``bookworm*`` removed.
    """
    apt = os.path.join(root, 'etc', 'apt')
    files = [os.path.join(apt, 'sources.list')]
    files += sorted(glob.glob(os.path.join(apt, 'sources.list.d', '*.list')))
    files += sorted(
        glob.glob(os.path.join(apt, 'sources.list.d', '*.sources'))
    )
    entries = []
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith('.sources'):
            found = (_stanza_entry(s) for s in _deb822_entries(text))
        else:
            found = _one_line_entries(text)
        for entry in found:
            if entry is None:
                continue
            suites = [
                s
                for s in entry['suites']
                if s == SUITE or s.startswith(SUITE + '-')
            ]
            if suites and entry['uris'] and 'main' in entry['components']:
                entry['suites'] = suites
                entries.append(entry)
    if not any(SUITE in e['suites'] for e in entries):
        raise SourcesError(
            'no Debian %s source in %s (sources.list, sources.list.d/*.list '
            'or *.sources with "Suites: %s" and "main")' % (SUITE, apt, SUITE)
        )
    return entries


def mirror(entries):
    """The first URI that serves the release itself (for debootstrap)."""
    for entry in entries:
        if SUITE in entry['suites']:
            return entry['uris'][0].rstrip('/')
    raise SourcesError('no Debian %s source' % SUITE)


def sources_file(entries):
    """A deb822 ``debian.sources`` for the image's base, main only."""
    stanzas = []
    for entry in entries:
        stanzas.append(
            'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n'
            'Signed-By: %s\n'
            % (' '.join(entry['uris']), ' '.join(entry['suites']), KEYRING)
        )
    return '\n'.join(stanzas)


def check(uri, timeout=20):
    """Fetch the release file; raise SourcesError saying why it failed."""
    url = '%s/dists/%s/Release' % (uri, SUITE)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            resp.read(1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, 'reason', exc)
        raise SourcesError(
            'no network: the Debian mirror of /etc/apt does '
            'not answer (%s)' % reason
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('what', choices=('mirror', 'sources', 'check'))
    parser.add_argument('--root', default='/')
    args = parser.parse_args(argv)
    try:
        entries = debian_entries(args.root)
        if args.what == 'mirror':
            print(mirror(entries))
        elif args.what == 'sources':
            sys.stdout.write(sources_file(entries))
        else:
            check(mirror(entries))
    except SourcesError as exc:
        print('debian_sources: error: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
