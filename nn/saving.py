"""save and load a module's parameters as a .npz file (a zip of .npy files, as np.savez writes).

Saving writes a temporary file beside the target and renames it over the target
(os.replace is atomic), so a crash never leaves half a file behind. The file gets
the permissions open(path, "w") would give it, and a symlink stays a link: the
file it points to is replaced.

Loading trusts nothing in the file. It reads each entry's .npy header first (name,
shape, dtype; a few bytes each) and checks them all against the module before it
inflates any data, so a header claiming 2**40 elements or a small file that
inflates to gigabytes is refused without allocating them: an entry is read only
when its shape is its parameter's shape and its dtype casts safely to the
parameter's, which caps what is inflated at the module's own size. Nothing is
ever unpickled. Any bad file is a ValueError, and the module is left unchanged.
"""
import contextlib
import glob
import os
import secrets
import stat
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from .module import state_problems

NPY_HEADER_LIMIT = 10_000  # bytes; the limit np.load puts on a .npy header
MAX_LISTED = 10            # problems named in an error message


def save(module, path):
    """Write module's parameters to path (a .npz file np.load can read) atomically."""
    target = os.path.realpath(path)  # through a symlink: the link stays, the file it names is replaced
    _remove_leftovers(target)
    temporary = f"{_temporary_prefix(target)}{os.getpid()}-{secrets.token_hex(4)}.tmp"
    # Created with 0o666 so the umask decides its mode, as with open(); a replaced file keeps its own.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    _writing.add(temporary)
    try:
        if os.path.exists(target):
            os.fchmod(handle, stat.S_IMODE(os.stat(target).st_mode))
        with os.fdopen(handle, "wb") as f:
            # Entries written one by one as np.savez does (its keywords would clash with a parameter named "file").
            with zipfile.ZipFile(f, "w") as archive:
                for name, array in module.state_dict().items():
                    with archive.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    finally:
        _writing.discard(temporary)


_writing = set()  # temporary files this process is writing now


def _temporary_prefix(target):
    """Temporary files for target are hidden beside it: .model.npz.<process id>-<random>.tmp"""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.")


def _remove_leftovers(target):
    """Delete temporary files that saves to target left when their process was killed: those of
    processes that no longer exist, and this process's own that it is not writing (a reused id)."""
    prefix = _temporary_prefix(target)
    for leftover in glob.glob(glob.escape(prefix) + "*-*.tmp"):
        pid = leftover[len(prefix):].split("-")[0]
        if not pid.isdigit():
            continue
        if (int(pid) == os.getpid() and leftover not in _writing) or not _process_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):  # another save removed it first
                os.unlink(leftover)


def _process_alive(pid):
    try:
        os.kill(pid, 0)  # signal 0 sends nothing: it only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def load(module, path):
    """Read parameters saved by save() into module and return the module.

    Each parameter gets a new array; a file that does not fit the module (names,
    shapes, dtypes, sizes) or is not a well-formed .npz raises a ValueError naming
    its problems (the first ten of them), and then no parameter has changed.
    """
    params = dict(module.named_parameters())
    with open(path, "rb") as f:  # a missing or unreadable file is the OS's error, as with open()
        try:
            with zipfile.ZipFile(f) as archive:
                entries, problems = _entries(archive)
                # Headers only of entries the module has a parameter for: nothing else is inflated at all.
                headers = {name: _read_header(archive, info) for name, info in entries.items() if name in params}
                problems += _problems(params, entries, headers)
                state = {} if problems else {name: _read_array(archive, entries[name], headers[name]) for name in params}
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError,
                NotImplementedError, zlib.error, ValueError, TypeError) as error:
            # RuntimeError: an encrypted entry; NotImplementedError: an unknown compression method.
            raise ValueError(f"nn.load: {os.fspath(path)!r} is not a readable .npz file "
                             f"(truncated, or not written by nn.save?): {error}") from None
    if problems:  # a hostile file may have a million wrong entries: the message names the first few
        more = f"; and {len(problems) - MAX_LISTED} more problems" if len(problems) > MAX_LISTED else ""
        raise ValueError(f"nn.load from {os.fspath(path)!r}: " + "; ".join(problems[:MAX_LISTED]) + more)
    module.load_state_dict(state)  # checks the arrays again, then assigns them all
    return module


class _Header(NamedTuple):
    """What an entry's .npy header says, and where its data starts."""
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    data_start: int

    @property
    def entry_size(self):
        return self.data_start + int(np.prod(self.shape)) * self.dtype.itemsize


def _entries(archive):
    """{name: zip entry} (np.savez adds .npy to each name), and a problem for each name used twice."""
    entries, problems = {}, []
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name in entries:
            problems.append(f"{name!r} appears twice in the file")
        entries[name] = info
    return entries, problems


def _problems(params, entries, headers):
    """Names, shapes and dtypes that do not fit params; when they all do, entries whose size in the
    zip is not what their header describes (so no entry is inflated past its parameter's size)."""
    problems = state_problems(params, {name: headers[name][:2] if name in headers else None for name in entries})
    if problems:
        return problems
    return [_size_problem(name, entries[name].file_size - header.entry_size)
            for name, header in headers.items() if entries[name].file_size != header.entry_size]


def _size_problem(name, extra):
    return f"{name!r} has {abs(extra)} bytes {'more' if extra > 0 else 'fewer'} than its header describes"


def _read_header(archive, info):
    """The .npy header of one entry, inflating only the header's bytes (at most NPY_HEADER_LIMIT)."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member, max_header_size=NPY_HEADER_LIMIT)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member, max_header_size=NPY_HEADER_LIMIT)
        else:  # 3.0 exists only for field names in UTF-8, and no parameter has fields
            raise ValueError(f"{info.filename!r}: .npy format version {version} is not supported")
        return _Header(shape, dtype, fortran_order, member.tell())


def _read_array(archive, info, header):
    """The entry's array: exactly the bytes its header promises (the zip checks their CRC)."""
    with archive.open(info) as member:
        member.seek(header.data_start)
        size = header.entry_size - header.data_start
        data = member.read(size)
        if len(data) != size or member.read(1):  # reading to the end also makes zipfile check the CRC
            raise ValueError(f"{info.filename!r} is shorter or longer than its header describes")
    return np.frombuffer(data, header.dtype).reshape(header.shape, order="F" if header.fortran_order else "C")
