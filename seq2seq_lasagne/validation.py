"""Checking what a file gives before anything uses it.

A run directory's files may be damaged, mismatched or hostile.  Here they
are read with bounds: JSON with a size limit and no ``NaN`` literals, ``.npz``
archives member by member, each member's ``.npy`` header checked (dtype,
shape, size against the bytes it holds) before any data is read, never a
pickle; and a model configuration checked against
:data:`~seq2seq_lasagne.settings.LIMITS` before a model is built from it.
Every failure is a :class:`ParamsError` naming the file and the problem in
one line.
"""

import json
import lzma
import math
import os
import stat
import struct
import zipfile
import zlib

import numpy as np

from .settings import ENCODERS, LIMITS, MERGES, MODELS

__all__ = [
    'ParamsError',
    'read_json',
    'NpzReader',
    'check_finite',
    'check_model_config',
    'MAX_JSON_BYTES',
    'MAX_NPZ_MEMBERS',
]

#: Largest JSON file read (a run's metrics.json is a few hundred KB).
MAX_JSON_BYTES = 64 * 2**20

#: Most members an archive may list (a checkpoint has a few dozen).
MAX_NPZ_MEMBERS = 1000

#: Dtypes an archive member may have (no objects, strings or complex).
NUMERIC_KINDS = 'biuf'

#: What reading a damaged zip archive can raise (encrypted members and
#: unknown compression methods included).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
)


class ParamsError(ValueError):
    """A parameter, checkpoint or run file is missing, corrupt or
    mismatched; the message names the file and the problem."""


def _regular_file(path, max_bytes):
    """Raise ParamsError unless ``path`` is a regular file of sane size."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ParamsError('%s is missing' % path)
    except OSError as exc:
        raise ParamsError('%s cannot be read: %s' % (path, exc.strerror))
    if not stat.S_ISREG(info.st_mode):
        raise ParamsError('%s is not a regular file' % path)
    if info.st_size > max_bytes:
        raise ParamsError(
            '%s is %d bytes, more than the %d allowed'
            % (path, info.st_size, max_bytes)
        )
    return info.st_size


def _no_constant(name):
    raise ValueError('%s is not a number JSON allows' % name)


def parse_json(data, source, allow_nan=False):
    """Parse JSON ``data`` (bytes), refusing deep nesting and, unless
    ``allow_nan``, the NaN and Infinity literals.

    Raises
    ------
    ParamsError
    """
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise ParamsError('%s is not UTF-8 text: %s' % (source, exc.reason))
    try:
        if allow_nan:
            return json.loads(text)
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ParamsError('%s is nested too deeply' % source)
    except ValueError as exc:
        raise ParamsError('%s is corrupt: %s' % (source, exc))


def read_json(path, max_bytes=MAX_JSON_BYTES, allow_nan=False):
    """The JSON value in ``path``, read with :func:`parse_json`'s checks.

    Raises
    ------
    ParamsError
        Missing, not a regular file, too large, not UTF-8, not JSON, nested
        too deeply, or holding NaN/Infinity.
    """
    _regular_file(path, max_bytes)
    try:
        with open(path, 'rb') as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise ParamsError('%s cannot be read: %s' % (path, exc.strerror))
    return parse_json(data, path, allow_nan)


class NpzReader:
    """An ``.npz`` archive opened for checked reading.

    Opening reads only the zip directory and every member's ``.npy``
    header; :attr:`headers` then gives each array's dtype and shape, so a
    caller can compare them with what it expects before any data is read.
    A header whose shape claims more values than the member holds, an
    object dtype (a pickle), or a member that is not ``.npy`` is refused.

    Parameters
    ----------
    path : str
    max_bytes : int
        Largest file accepted.

    Attributes
    ----------
    headers : dict
        Array name -> ``(dtype, shape)``.

    Raises
    ------
    ParamsError
    """

    def __init__(self, path, max_bytes=2**34):
        self.path = path
        _regular_file(path, max_bytes)
        try:
            self._zip = zipfile.ZipFile(path)
        except _ZIP_ERRORS as exc:
            raise ParamsError(self._not_npz(exc))
        try:
            self.headers = self._read_headers()
        except BaseException:
            self._zip.close()
            raise

    def _not_npz(self, exc):
        try:
            with open(self.path, 'rb') as f:
                start = f.read(6)
        except OSError:
            start = b''
        if start == b'\x93NUMPY':
            return '%s is a single .npy array, not an .npz archive' % self.path
        if start[:1] == b'\x80':
            return '%s is a pickle, not an .npz archive' % self.path
        return '%s is corrupt: not an .npz archive (%s)' % (self.path, exc)

    def _read_headers(self):
        infos = self._zip.infolist()
        if len(infos) > MAX_NPZ_MEMBERS:
            raise ParamsError(
                '%s has %d members, more than the %d allowed'
                % (self.path, len(infos), MAX_NPZ_MEMBERS)
            )
        headers = {}
        self._infos = {}
        for info in infos:
            if not info.filename.endswith('.npy'):
                raise ParamsError(
                    '%s holds %r, not an .npy array'
                    % (self.path, info.filename)
                )
            name = info.filename[:-4]
            if name in headers:
                raise ParamsError('%s holds %s twice' % (self.path, name))
            try:
                with self._zip.open(info) as f:
                    dtype, shape, offset = self._header(f, name)
            except ParamsError:
                raise
            except _ZIP_ERRORS as exc:
                raise ParamsError(
                    '%s: member %s is corrupt: %s' % (self.path, name, exc)
                )
            size = dtype.itemsize * math.prod(shape)
            if size != info.file_size - offset:
                raise ParamsError(
                    '%s: %s claims shape %s (%d bytes) but holds %d bytes'
                    % (
                        self.path,
                        name,
                        shape,
                        size,
                        info.file_size - offset,
                    )
                )
            headers[name] = (dtype, shape)
            self._infos[name] = info
        return headers

    def _header(self, f, name):
        fmt = np.lib.format
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ParamsError(
                '%s: %s has .npy format version %s'
                % (self.path, name, version)
            )
        if dtype.hasobject or dtype.kind not in NUMERIC_KINDS:
            raise ParamsError(
                '%s: %s has dtype %s; only numbers are read (never pickles)'
                % (self.path, name, dtype)
            )
        if any(n < 0 for n in shape):
            raise ParamsError('%s: %s has shape %s' % (self.path, name, shape))
        return dtype, tuple(shape), f.tell()

    def read(self, name):
        """The array ``name`` (its header was checked on opening)."""
        try:
            with self._zip.open(self._infos[name]) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        except _ZIP_ERRORS as exc:
            raise ParamsError('%s: %s is corrupt: %s' % (self.path, name, exc))

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_finite(array, name, source):
    """Raise ParamsError if ``array`` holds NaN or infinity."""
    if array.dtype.kind == 'f' and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ParamsError(
            '%s: %s holds %d non-finite value%s (NaN or infinity)'
            % (source, name, bad, '' if bad == 1 else 's')
        )


#: Sizes every model configuration gives.
_CONFIG_INTS = ('num_units_enc', 'num_units_dec', 'max_digits')


def check_model_config(config, source):
    """Raise ParamsError unless ``config`` is one ``build_model`` accepts.

    Every size is present and a whole number within
    :data:`~seq2seq_lasagne.settings.LIMITS`; names are known ones; no key
    is unexpected.
    """
    if not isinstance(config, dict):
        raise ParamsError('%s does not describe a model' % source)
    model = config.get('model')
    if model not in MODELS:
        raise ParamsError(
            '%s: model is %r, not one of %s'
            % (source, model, ', '.join(MODELS))
        )
    ints = _CONFIG_INTS + (('aln_num_units',) if model == 'attention' else ())
    flags = ('fused_gru',) + (
        ('unroll_scan', 'fused_attention', 'decoder_mask')
        if model == 'attention'
        else ()
    )
    known = set(ints + flags + ('model', 'encoder', 'merge'))
    unknown = sorted(set(config) - known)
    if unknown:
        raise ParamsError(
            '%s has unexpected keys: %s' % (source, ', '.join(unknown))
        )
    for key in ints:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(
                '%s: %s must be a whole number, got %r' % (source, key, value)
            )
        if not 1 <= value <= LIMITS[key]:
            raise ParamsError(
                '%s: %s must be between 1 and %d, got %d'
                % (source, key, LIMITS[key], value)
            )
    # encoder, merge and the flags came later than the sizes: a config
    # without them takes the builders' defaults (the notebook's).
    for key, choices in (('encoder', ENCODERS), ('merge', MERGES)):
        if key in config and config[key] not in choices:
            raise ParamsError(
                '%s: %s is %r, not one of %s'
                % (source, key, config.get(key), ', '.join(choices))
            )
    for key in flags:
        if key in config and not isinstance(config[key], bool):
            raise ParamsError(
                '%s: %s must be true or false, got %r'
                % (source, key, config.get(key))
            )
