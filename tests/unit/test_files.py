"""hess_dr.files: files appear complete or not at all."""
from __future__ import annotations

import stat

import pytest

from hess_dr import files


def test_write_bytes_atomically_writes_a_readable_file(tmp_path):
    path = files.write_bytes_atomically(tmp_path / "a.png", b"\x89PNG data")
    assert path == tmp_path / "a.png"
    assert path.read_bytes() == b"\x89PNG data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left


@pytest.mark.parametrize("data", [b"", b"x" * 100_000])
def test_write_bytes_atomically_replaces_an_existing_file(tmp_path, data):
    (tmp_path / "f").write_bytes(b"old")
    files.write_bytes_atomically(tmp_path / "f", data)
    assert (tmp_path / "f").read_bytes() == data


def test_the_writer_may_choose_the_final_name(tmp_path):
    def write(out):
        out.write(b"\x1f\x8b...")
        return tmp_path / "events.fits.gz"
    assert files.write_atomically(tmp_path / "events", write) == tmp_path / "events.fits.gz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.fits.gz"]


def test_a_failing_writer_leaves_nothing_behind(tmp_path):
    (tmp_path / "kept").write_bytes(b"previous")

    def write(out):
        out.write(b"half")
        raise ConnectionError("cut")
    with pytest.raises(ConnectionError):
        files.write_atomically(tmp_path / "kept", write)
    assert (tmp_path / "kept").read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
