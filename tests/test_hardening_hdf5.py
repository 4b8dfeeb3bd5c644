"""Hostile HDF5 structure and damaged weights (issue 21): links and layouts that make HDF5 read
outside the file (or crash inside it), data files declaring absurd sizes, checksums of every
stored tensor, and `compare` over a folder holding files that are not run files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flowkit import DataError
from flowkit.cli import cli
from flowkit.io.runfile import read_run_record

DATA = Path(__file__).parent / "data"
V01 = sorted(DATA.glob("run-v0.1-*.h5"))
TINY = ["--hidden", 8, "--depth", 1, "--layers", 3, "--num-samples", 2, "--device", "cpu"]
RUN = ["-q", "--threads", 1]


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _run(*args):
    result = flowkit(*args)
    return result.exit_code, result.output


def one_error_line(exit_code, output, *words):
    lines = output.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert exit_code == 2, (exit_code, output)
    assert len(lines) == 1 and len(errors) == 1, output
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A tiny completed run on 2-D data."""
    out = tmp_path_factory.mktemp("hdf5") / "good.h5"
    result = flowkit("run", "nice", "--dataset", "moons", *TINY, "--epochs", 2, *RUN, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def copy(source, folder, name="bad.h5"):
    target = Path(folder) / name
    shutil.copy(source, target)
    return target


def largest_weight(handle, group="model"):
    floats = [(ds.size, name) for name, ds in handle[group].items() if ds.dtype.kind == "f"]
    return f"{group}/{max(floats)[1]}"


def make_virtual(handle, name, source_file=None, source_name=None):
    """Replace dataset ``name`` by a virtual dataset reading ``source_name`` of ``source_file``
    (default: itself, of this very file: HDF5 recurses until it crashes)."""
    shape, dtype = handle[name].shape, handle[name].dtype
    del handle[name]
    layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
    layout[...] = h5py.VirtualSource(source_file or ".", source_name or name, shape=shape)
    handle.create_virtual_dataset(name, layout)


def write_data(path, values=None):
    with h5py.File(path, "w") as f:
        f["points"] = np.random.default_rng(0).normal(size=(40, 2)) if values is None else values
    return path


# ---- 1. virtual datasets, external links, external storage -----------------------------------

DRIVER = """
import json, sys
from click.testing import CliRunner
from flowkit.cli import cli
from flowkit.errors import RunFileError
from flowkit.io.benchfile import read_bench_file
answers = []
for case in json.loads(sys.argv[1]):
    print("case", case, file=sys.stderr, flush=True)
    if case[0] == "bench":
        try:
            read_bench_file(case[1])
            answers.append([0, ""])
        except RunFileError as err:
            answers.append([2, "Error: " + str(err)])
    else:
        result = CliRunner().invoke(cli, case)
        answers.append([result.exit_code, result.output])
print(json.dumps(answers))
"""


def test_a_self_referencing_virtual_dataset_is_refused_by_every_reader(good, tmp_path):
    """Each of these died with SIGSEGV (exit 139) inside HDF5; run in a child process."""
    bad = copy(good, tmp_path)
    with h5py.File(bad, "a") as f:
        make_virtual(f, largest_weight(f))
    data = write_data(tmp_path / "data.h5")
    with h5py.File(data, "a") as f:
        make_virtual(f, "points")
    bench = tmp_path / "bench.h5"
    with h5py.File(bench, "w") as f:
        f.attrs.update(format="flowkit-bench", format_version=1, couplings='json:["additive"]')
        f["laws/additive/test_nll"] = np.zeros(3)
        make_virtual(f, "laws/additive/test_nll")
    folder = tmp_path / "runs"
    folder.mkdir()
    copy(bad, folder, "bad.h5")
    copy(good, folder, "good.h5")
    out = tmp_path / "out.h5"
    cases = [
        ["compare", folder],  # skips bad.h5 with a warning
        ["show", bad],
        ["config", bad],
        ["compare", bad],
        ["eval", bad],
        ["sample", bad, "-n", 2, "-o", tmp_path / "s.npy"],
        ["run", "--resume", bad, "--epochs", 5, *RUN],
        ["run", "nice", "--dataset", "moons", *TINY, "--init-from", bad, *RUN, "--out", out],
        ["run", "nice", "--dataset", data, *TINY, *RUN, "--out", out],
        ["bench", bench],
    ]
    cases = [[str(a) for a in case] for case in cases]
    child = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])  # -11: SIGSEGV
    (code, table), *answers = json.loads(child.stdout)
    assert len(answers) == len(cases) - 1
    for code_, output in answers:
        one_error_line(code_, output, "virtual dataset")
    warnings = [line for line in table.splitlines() if line.startswith("Warning: ")]
    assert code == 0 and "good.h5" in table, table
    assert len(warnings) == 1 and "bad.h5" in warnings[0] and "virtual" in warnings[0], table
    assert not out.exists()


@pytest.mark.parametrize("command", ["show", "eval"])
def test_an_external_link_in_a_run_file_is_refused(good, tmp_path, command):
    other = copy(good, tmp_path, "other.h5")
    bad = copy(good, tmp_path)
    with h5py.File(bad, "a") as f:  # followed, it read the other file's root as the metrics
        f["metrics/epoch_elsewhere"] = h5py.ExternalLink(str(other), "/")
    one_error_line(*_run(command, bad), "external link", "other.h5")


def test_data_files_may_not_read_outside_themselves(registry, tmp_path):
    file_dataset = registry.get("dataset", "file")
    secret = write_data(tmp_path / "secret.h5", np.arange(80.0).reshape(40, 2))
    linked = tmp_path / "linked.h5"
    with h5py.File(linked, "w") as f:
        f["points"] = h5py.ExternalLink(str(secret), "points")
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.arange(80.0).tobytes())
    stored = tmp_path / "stored.h5"
    with h5py.File(stored, "w") as f:
        f.create_dataset("points", shape=(40, 2), dtype="<f8", external=[(str(raw), 0, 640)])
    for path, words in [(linked, "external link"), (stored, "external files")]:
        with pytest.raises(DataError, match=words) as caught:
            file_dataset(path=f"{path}:points").load()
        assert "\n" not in str(caught.value)
    alias = write_data(tmp_path / "alias.h5")
    with h5py.File(alias, "a") as f:  # a soft link stays inside the file: allowed
        f["alias"] = h5py.SoftLink("/points")
    assert file_dataset(path=f"{alias}:alias").load().train.shape[1:] == (2,)


def test_the_structure_check_sees_through_nothing(tmp_path):
    from flowkit import hdf5_hazard

    path = tmp_path / "walk.h5"
    with h5py.File(path, "w") as f:
        f["a/values"] = np.zeros(3)
        f["a/up"] = f["/"]  # a hard-link cycle ends the walk, not the process
        f["a/loop"] = h5py.SoftLink("/a/loop")
        f["a/nowhere"] = h5py.SoftLink("/missing")
    with h5py.File(path, "r") as f:
        assert hdf5_hazard(f) is None
    with h5py.File(path, "a") as f:
        f["a/b/c/far"] = h5py.ExternalLink("/etc/hosts.h5", "/")
        name = "a/v\nx"
        f[name] = np.zeros(3)
        make_virtual(f, name)
    with h5py.File(path, "r") as f:
        found = hdf5_hazard(f)
        assert found and "\n" not in found and ("a/b/c/far" in found or "a/v" in found)
        assert "virtual" in hdf5_hazard(f[name])


# ---- 2. data files declaring absurd sizes -----------------------------------------------------


@pytest.mark.parametrize("suffix", [".h5", ".npy", ".npz"])
def test_a_data_file_declaring_1e12_rows_is_one_line(registry, tmp_path, suffix):
    """A MemoryError (a traceback) before: the declared size is compared before reading."""
    path = tmp_path / f"huge{suffix}"
    shape = (10**12, 784)
    if suffix == ".h5":
        with h5py.File(path, "w") as f:
            f.create_dataset("x", shape=shape, dtype="f4", chunks=(1000, 784))
    else:
        header = tmp_path / "x.npy"
        with open(header, "wb") as stream:
            np.lib.format.write_array_header_1_0(
                stream, {"descr": "<f4", "fortran_order": False, "shape": shape}
            )
            stream.write(b"\0" * 64)
        if suffix == ".npy":
            header.rename(path)
        else:
            with zipfile.ZipFile(path, "w") as archive:
                archive.write(header, "x.npy")
    with pytest.raises(DataError, match="at most") as caught:
        registry.get("dataset", "file")(path=path).load()
    assert "1,000,000,000,000" in str(caught.value) and "\n" not in str(caught.value)


# ---- 3. checksums of every stored tensor ------------------------------------------------------


def flip_bytes(path, name):
    """Damage dataset ``name`` in place, as bit rot would: its bytes, not through HDF5."""
    with h5py.File(path, "r") as f:
        offset, size = f[name].id.get_offset(), f[name].id.get_storage_size()
    assert offset is not None and size >= 8
    with open(path, "r+b") as stream:
        stream.seek(offset + size // 2)
        chunk = stream.read(4)
        stream.seek(offset + size // 2)
        stream.write(bytes(b ^ 0x5A for b in chunk))


def test_every_stored_dataset_has_a_checksum_and_old_files_still_read(good):
    with h5py.File(good, "r") as f:
        names: list[str] = []
        f.visititems(
            lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None
        )
        missing = [n for n in names if not str(f[n].attrs.get("checksum")).startswith("sha256:")]
    assert names and not missing, missing
    for path in V01:  # written before checksums: read without them
        with h5py.File(path, "r") as f:
            assert "checksum" not in f[largest_weight(f)].attrs
        assert read_run_record(path).status == "completed"
        assert flowkit("show", path).exit_code == 0


@pytest.mark.parametrize("where", ["model", "checkpoint/model", "checkpoint/optimizer/0"])
def test_a_flipped_byte_in_a_stored_tensor_names_the_tensor(good, tmp_path, where):
    """eval exited 0 with absurd numbers before."""
    bad = copy(good, tmp_path)
    with h5py.File(bad, "r") as f:
        name = largest_weight(f, where)
    flip_bytes(bad, name)
    command = ["eval", bad] if where == "model" else ["run", "--resume", bad, "--epochs", 5, *RUN]
    one_error_line(*_run(*command), name, "checksum")


def test_values_changed_through_hdf5_are_caught_too(good, tmp_path):
    bad = copy(good, tmp_path)
    with h5py.File(bad, "r+") as f:
        name = largest_weight(f)
        f[name][...] = f[name][()] * 1.5
    one_error_line(*_run("eval", bad), name, "checksum")


# ---- 4. fuzzing the structure ------------------------------------------------------------------

HAZARDS = ("external link", "virtual", "external storage")
DTYPES = [np.float16, ">f4", np.complex64, np.bool_, h5py.string_dtype(), "S3",
          h5py.enum_dtype({"a": 0, "b": 1}), np.dtype([("x", "<f4"), ("y", "<i2")]),
          h5py.ref_dtype]  # fmt: skip
FILTERS = [{"compression": "gzip"}, {"shuffle": True}, {"fletcher32": True},
           {"compression": "lzf"}, {"scaleoffset": 2}, {"chunks": (1,)}]  # fmt: skip


def _structural_damage(path, data):
    """One change of structure: a link, a virtual or externally stored dataset, another dtype,
    or the same values chunked and filtered."""
    kind = data.draw(st.sampled_from([*HAZARDS, "soft link", "hard link", "dtype", "filters"]))
    with h5py.File(path, "a") as f:
        datasets, groups = [], ["/"]
        f.visititems(lambda n, o: (datasets if isinstance(o, h5py.Dataset) else groups).append(n))
        name = data.draw(st.sampled_from(sorted(datasets)))
        values = f[name][()]
        if kind == "external link":
            where = f"{data.draw(st.sampled_from(sorted(groups)))}/link".replace("//", "/")
            f[where] = h5py.ExternalLink(data.draw(st.sampled_from([str(path), "gone.h5"])), "/")
        elif kind == "virtual":
            target = data.draw(st.sampled_from([name, *datasets]))
            make_virtual(f, name, data.draw(st.sampled_from([".", "gone.h5"])), target)
        elif kind == "external storage":  # (h5py ignores it for a scalar)
            array = np.atleast_1d(values)
            raw = path.parent / "raw.bin"
            raw.write_bytes(array.tobytes() or b"\0")
            del f[name]
            external = [(str(raw), 0, max(array.nbytes, 1))]
            f.create_dataset(name, shape=array.shape, dtype=array.dtype, external=external)
        elif kind in ("soft link", "hard link"):
            other = data.draw(st.sampled_from(sorted(set(datasets + groups) - {name})))
            del f[name]
            f[name] = h5py.SoftLink(data.draw(st.sampled_from([f"/{other}", "/gone", name])))
            if kind == "hard link":
                del f[name]
                f[name] = f[other]
        elif kind == "dtype":
            dtype = data.draw(st.sampled_from(DTYPES))
            del f[name]
            f.create_dataset(name, shape=np.shape(values), dtype=dtype)
        else:
            options = data.draw(st.sampled_from(FILTERS))
            array = np.atleast_1d(values)
            del f[name]
            f.create_dataset(name, data=array, chunks=options.pop("chunks", True), **options)
    return kind


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_structurally_damaged_run_files_end_with_exit_0_or_one_line(data, good, tmp_path):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = copy(good, folder, "fuzz.h5")
    kind = _structural_damage(path, data)
    resume = ("run", "--resume", path, "--epochs", 3, *RUN)
    command = data.draw(st.sampled_from([("show", path), ("eval", path), resume]))
    result = CliRunner().invoke(cli, [str(a) for a in command])
    event(f"{kind}: exit {result.exit_code}")
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), (kind, command, result.output, repr(result.exception))
    assert result.exit_code in (0, 2), (kind, command, result.output)
    if result.exit_code == 2 or kind in HAZARDS:
        one_error_line(result.exit_code, result.output)
    if kind in HAZARDS:
        assert any(word in result.output for word in ("external", "virtual")), result.output


# ---- 5. compare over a folder with files that are not (readable) run files --------------------


def test_compare_skips_unreadable_files_of_a_folder_with_one_warning_each(good, tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    copy(good, folder, "a.h5")
    copy(good, folder, "b.h5")
    assert flowkit("sample", good, "-n", 2, "-o", folder / "samples.h5").exit_code == 0
    (folder / "truncated.h5").write_bytes(good.read_bytes()[:5000])
    with h5py.File(good, "r") as f:
        flip_bytes(copy(good, folder, "rotten.h5"), largest_weight(f))
    result = CliRunner().invoke(cli, ["compare", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sorted(Path(row["path"]).name for row in rows) == ["a.h5", "b.h5"]
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 3 and all(line.startswith("Warning: ") for line in warnings)
    for name in ("samples.h5", "truncated.h5", "rotten.h5"):
        assert sum(name in line for line in warnings) == 1, warnings
    table = flowkit("compare", folder)
    assert table.exit_code == 0 and len(table.stdout.strip().splitlines()) == 3  # header + 2
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    copy(folder / "samples.h5", nothing, "samples.h5")
    result = flowkit("compare", nothing)
    assert result.exit_code == 2 and result.stderr.strip().splitlines()[-1].startswith("Error: ")
