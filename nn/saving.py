"""save and load a module's parameters as a .npz file.

Saving writes a temporary file beside the target and renames it over the
target (os.replace is atomic), so a crash never leaves half a file behind.
Loading uses allow_pickle=False, so a model file can never run code, and goes
through load_state_dict, which checks every name and shape before writing any.
"""
import os
import tempfile
import zipfile

import numpy as np


def save(module, path):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **module.state_dict())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(module, path):
    """Read parameters saved by save() into module (in place) and return the module."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            state = {name: arrays[name] for name in arrays.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, TypeError) as error:  # TypeError: a bare .npy
        raise ValueError(f"nn.load: {os.fspath(path)!r} is not a readable .npz file "
                         f"(truncated or not written by nn.save?): {error}") from None
    try:
        module.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"nn.load from {os.fspath(path)!r}: {error}") from None
    return module
