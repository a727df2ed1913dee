"""Hostile model files: nn.load refuses each with a ValueError and leaves the module as it was;
nn.save behaves like writing a file with open() would, and atomically.

nn.load's cases are one table, LOAD_CASES. To add one, write a function that takes the path
and the module under attack and writes the file there, then add a row: (id, that function,
a pattern the error message must match). Every case is checked the same way: a ValueError,
no parameter changed (not even one of several), and no large allocation (nothing big inflated).
"""
import io
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile

import numpy as np
import pytest

import nn
from tinygrad_edu import Tensor

BOMB_BYTES = 64 << 20     # an entry that inflates to 64 MiB from a file of about 300 KB
MEMORY_LIMIT = 4 << 20    # what loading a small module may allocate at its peak


def model():
    """The module under attack: four float32 parameters, 0.weight (2, 3), 0.bias, 2.weight (3, 2), 2.bias."""
    return nn.MLP([2, 3, 2], seed=0)


def good_state(module):
    """A state that would load: the module's own arrays plus one (so a partial write shows)."""
    return {name: p.data + 1 for name, p in module.named_parameters()}


def npy(array):
    """The bytes of a .npy file holding array."""
    f = io.BytesIO()
    np.lib.format.write_array(f, array, allow_pickle=False)
    return f.getvalue()


def npy_header(shape, dtype):
    """The header of a .npy file claiming shape and dtype, with no data after it."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return f.getvalue()


def write_npz(path, members):
    """A zip of (member name, bytes) pairs, as np.savez lays one out (member names end in .npy)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)


def write_state(path, module, **replaced):
    """The module's good state with some entries replaced, saved as np.savez would."""
    state = dict(good_state(module), **replaced)
    write_npz(path, [(name + ".npy", npy(array)) for name, array in state.items()])


def write_bomb(path, module, name):
    """The good state plus an entry `name` whose header is honest: BOMB_BYTES of float32 zeros,
    deflated to almost nothing."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, array in good_state(module).items():
            if key != name:
                archive.writestr(key + ".npy", npy(array))
        with archive.open(name + ".npy", "w", force_zip64=True) as member:
            member.write(npy_header((BOMB_BYTES // 4,), np.float32))
            chunk = bytes(1 << 22)
            for _ in range(BOMB_BYTES // len(chunk)):
                member.write(chunk)


# --- the cases: each writes a hostile file at path for module ----------------------------------

def text_in_the_last_entry(path, module):
    write_state(path, module, **{"2.bias": np.array(["one", "two"])})


def numeric_bytes_strings(path, module):
    write_state(path, module, **{"0.bias": np.array([b"1", b"2", b"3"])})


def float64_into_float32(path, module):
    write_state(path, module, **{"0.weight": np.zeros((2, 3), np.float64)})


def int64_into_float32(path, module):
    write_state(path, module, **{"2.bias": np.array([1, 2], np.int64)})


def complex_numbers(path, module):
    write_state(path, module, **{"0.bias": np.array([1 + 2j, 3, 4], np.complex64)})


def structured_dtype(path, module):
    write_state(path, module, **{"2.bias": np.zeros(2, dtype=[("x", np.float32)])})


def header_claims_2_to_the_40_elements(path, module):
    state = good_state(module)
    write_npz(path, [(name + ".npy", npy(a)) for name, a in state.items() if name != "0.weight"]
              + [("0.weight.npy", npy_header((2 ** 40,), np.float32))])


def header_shape_mismatch_with_a_huge_deflated_entry(path, module):
    write_bomb(path, module, "0.weight")


def unexpected_entry_with_a_huge_deflated_entry(path, module):
    write_bomb(path, module, "extra")


def bytes_after_the_array(path, module):
    state = good_state(module)
    write_npz(path, [(name + ".npy", npy(array) + (bytes(1000) if name == "2.weight" else b""))
                     for name, array in state.items()])


def one_name_twice(path, module):
    state = good_state(module)
    members = [(name + ".npy", npy(array)) for name, array in state.items()]
    with pytest.warns(UserWarning, match="Duplicate name"):  # zipfile lets it be written, with a warning
        write_npz(path, members + [("0.bias.npy", npy(np.zeros(3, np.float32)))])


def a_thousand_unexpected_entries(path, module):
    state = good_state(module)
    write_npz(path, [(name + ".npy", npy(array)) for name, array in state.items()]
              + [(f"extra{i}.npy", npy(np.zeros(1))) for i in range(1000)])


LOAD_CASES = [
    # (id, writes the file, what the error says)
    ("text in the last of four entries", text_in_the_last_entry, r"'2.bias' has dtype <U3 .* float32"),
    ("bytes that spell numbers", numeric_bytes_strings, r"'0.bias' has dtype \|S1"),
    ("float64 into a float32 parameter", float64_into_float32, r"'0.weight' has dtype float64 .* safely"),
    ("int64 into a float32 parameter", int64_into_float32, r"'2.bias' has dtype int64"),
    ("complex numbers", complex_numbers, r"'0.bias' has dtype complex64"),
    ("a structured dtype", structured_dtype, r"'2.bias' has dtype \[\('x'"),
    ("a header claiming 2**40 elements", header_claims_2_to_the_40_elements,
     r"'0.weight' has shape \(1099511627776,\) in the state but \(2, 3\)"),
    ("a huge entry under a parameter's name", header_shape_mismatch_with_a_huge_deflated_entry,
     r"'0.weight' has shape \(16777216,\)"),
    ("a huge entry under an unknown name", unexpected_entry_with_a_huge_deflated_entry, "unexpected 'extra'"),
    ("bytes after an entry's array", bytes_after_the_array, r"'2.weight' has 1000 bytes more than its header describes"),
    ("one name twice", one_name_twice, "'0.bias' appears twice"),
    ("a thousand unexpected entries", a_thousand_unexpected_entries,
     r"unexpected 'extra0'; .*; unexpected 'extra9'; and 990 more problems$"),
]


@pytest.mark.parametrize("write, message", [case[1:] for case in LOAD_CASES], ids=[case[0] for case in LOAD_CASES])
def test_load_refuses_a_hostile_file_and_changes_nothing(tmp_path, write, message):
    module = model()
    arrays = {name: p.data for name, p in module.named_parameters()}
    values = {name: a.copy() for name, a in arrays.items()}
    path = tmp_path / "model.npz"
    write(path, module)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message) as error:
            nn.load(module, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(error.value)
    assert peak < MEMORY_LIMIT, f"nn.load allocated {peak} bytes before refusing the file"
    for name, p in module.named_parameters():
        assert p.data is arrays[name] and np.array_equal(p.data, values[name]), name


def test_the_cases_are_each_loadable_once_the_hostile_part_is_removed(tmp_path):
    """The table's good_state really loads, so each case fails for its own reason."""
    module = model()
    path = tmp_path / "model.npz"
    write_state(path, module)
    expected = good_state(module)
    nn.load(module, path)
    for name, p in module.named_parameters():
        np.testing.assert_array_equal(p.data, expected[name])
        assert p.dtype == np.float32


def test_load_gives_new_arrays_so_a_live_graph_keeps_the_values_it_saved(tmp_path):
    module = nn.Linear(2, 1, seed=0, dtype=np.float64)
    x = Tensor([[1.0, 2.0]], dtype=np.float64, requires_grad=True)
    out = module(x)
    expected = 2 * out.data @ module.weight.data.T  # d(out²)/dx with the weights the graph saw
    loss = (out * out).sum()
    nn.save(nn.Linear(2, 1, seed=1, dtype=np.float64), tmp_path / "other.npz")
    nn.load(module, tmp_path / "other.npz")
    loss.backward()
    np.testing.assert_allclose(x.grad.data, expected)
    assert not module.weight.data.flags.writeable


def test_python_lists_take_the_parameters_dtype_but_text_does_not():
    module = nn.Linear(2, 1, seed=0)  # float32, as PyTorch
    module.load_state_dict({"weight": [[0.5], [2]], "bias": [0.25]})
    assert module.weight.data.tolist() == [[0.5], [2.0]] and module.weight.dtype == np.float32
    with pytest.raises(ValueError, match="'bias' has dtype <U4"):
        module.load_state_dict({"weight": [[0.5], [2]], "bias": ["0.25"]})


# --- nn.save ---------------------------------------------------------------------------------------

def test_save_respects_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        nn.save(model(), tmp_path / "model.npz")
    finally:
        os.umask(previous)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o644


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "model.npz"
    nn.save(model(), path)
    path.chmod(0o640)
    nn.save(model(), path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_save_writes_through_a_symlink_to_its_target(tmp_path):
    target, link = tmp_path / "models" / "v1.npz", tmp_path / "latest.npz"
    target.parent.mkdir()
    nn.save(nn.Linear(2, 2, seed=0), target)
    link.symlink_to(target)
    saved = nn.Linear(2, 2, seed=1)
    nn.save(saved, link)
    assert link.is_symlink() and link.resolve() == target
    np.testing.assert_array_equal(nn.load(nn.Linear(2, 2), target).weight.data, saved.weight.data)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["latest.npz", "models", "v1.npz"]


def test_a_parameter_may_be_named_like_savezs_own_arguments(tmp_path):
    class Odd(nn.Module):
        def __init__(self):
            self.file = Tensor([1.0, 2.0], requires_grad=True)
            self.allow_pickle = Tensor([3.0], requires_grad=True)

    path = tmp_path / "odd.npz"
    nn.save(Odd(), path)
    loaded = Odd()
    loaded.file, loaded.allow_pickle = Tensor([0.0, 0.0], requires_grad=True), Tensor([0.0], requires_grad=True)
    nn.load(loaded, path)
    assert loaded.file.data.tolist() == [1.0, 2.0] and loaded.allow_pickle.data.tolist() == [3.0]


def test_a_save_killed_midway_leaves_a_file_the_next_save_removes(tmp_path):
    # A child process saves and is killed (SIGKILL: no Python cleanup runs) just before the rename.
    path = tmp_path / "model.npz"
    child = textwrap.dedent(f"""
        import os, signal, sys
        import nn
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
        nn.save(nn.MLP([2, 3, 2], seed=0), {str(path)!r})
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp"), leftovers
    nn.save(model(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_a_leftover_of_a_killed_process_whose_id_this_process_now_has_is_removed(tmp_path):
    # Containers reuse process ids: a save killed in one run may have had this run's id.
    leftover = tmp_path / f".model.npz.{os.getpid()}-0123abcd.tmp"
    leftover.write_bytes(bytes(100))
    nn.save(model(), tmp_path / "model.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_a_failed_save_leaves_no_file(tmp_path):
    class Broken(nn.Module):
        def __init__(self):
            self.weight = Tensor([1.0], requires_grad=True)

        def state_dict(self):
            raise KeyboardInterrupt  # as if interrupted while writing

    with pytest.raises(KeyboardInterrupt):
        nn.save(Broken(), tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []
