"""hess_dr.sources: symbolic-link loops and the loop-safe source patterns."""
from __future__ import annotations

import glob
import os

from hess_dr import sources


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_looping_link(tmp_path):
    _touch(tmp_path / "night" / "run.fits")
    os.symlink(".", tmp_path / "night" / "again")        # to itself
    os.symlink("..", tmp_path / "night" / "up")          # to its parent
    elsewhere = tmp_path.parent / f"{tmp_path.name}_elsewhere"
    _touch(elsewhere / "x.fits")
    os.symlink(elsewhere, tmp_path / "linked")           # a link, no loop
    root = str(tmp_path)
    assert sources.looping_link(str(tmp_path / "night" / "run.fits"), root) is None
    assert sources.looping_link(str(tmp_path / "linked" / "x.fits"), root) is None
    assert sources.looping_link(str(tmp_path / "run.fits"), root) is None
    assert (sources.looping_link(str(tmp_path / "night" / "again" / "run.fits"), root)
            == str(tmp_path / "night" / "again"))
    assert (sources.looping_link(str(tmp_path / "night" / "up" / "night" / "run.fits"), root)
            == str(tmp_path / "night" / "up"))


def test_source_patterns_survive_links_and_odd_names(tmp_path):
    data = tmp_path / "data"
    outside = tmp_path / "outside"
    expected = {_touch(data / "a.fits"), _touch(data / "glob[1]" / "b.fits.gz"),
                _touch(data / "x" / "y" / "c.fits"), _touch(outside / "deep" / "d.fits")}
    _touch(data / ".hidden" / "e.fits")
    os.symlink(outside, data / "linked")
    os.symlink(data, data / "x" / "up")                  # a loop
    os.symlink("/nonexistent/f.fits", data / "dangling.fits")
    os.symlink("self", data / "self")                    # a link to itself
    patterns = sources.source_patterns(str(data))
    found = {os.path.realpath(name) for pattern in patterns for name in glob.glob(pattern)}
    assert {str(p.resolve()) for p in expected} <= found
    assert not any(".hidden" in name for name in found)
    # each real directory once; the symlinked one under its link's name
    assert len(patterns) == len(set(patterns)) == 3 * 6  # *.fits, *.fits.gz, *.fits.bz2
    assert os.path.join(glob.escape(str(data / "linked" / "deep")), "*.fits") in patterns


class _Configuration:
    def __init__(self, data_dir):
        self.data_dir = str(data_dir)

    def collection_for(self, path):
        return "c" if str(path).startswith(self.data_dir + os.sep) else None


def _forget(token, inputs, *, newly_created=False, imported=(), data_dir=None):
    messages = []
    loads = []

    def load():
        loads.append(1)
        return _Configuration(data_dir or inputs)

    paths = sources.paths_to_forget(
        token, str(inputs), newly_created=newly_created, imported_paths=lambda: list(imported),
        load_configuration=load, notify=messages.append)
    return paths, messages, len(loads)


def test_paths_to_forget_for_a_file_is_its_own_key(tmp_path):
    run = tmp_path / "data" / "run.fits"
    assert _forget(str(run), tmp_path) == (["data/run.fits"], [], 0)
    assert _forget(str(run), tmp_path, newly_created=True) == ([], [], 0)


def test_paths_to_forget_on_prune_names_vanished_and_unconfigured_files(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kept.fits").write_bytes(b"x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "orphan.fits").write_bytes(b"x")
    imported = ["data/kept.fits", "data/gone.fits", "elsewhere/orphan.fits"]
    paths, messages, loads = _forget(sources.PRUNE_TOKEN, tmp_path, imported=imported,
                                     data_dir=tmp_path / "data")
    assert paths == ["data/gone.fits", "elsewhere/orphan.fits"]
    assert "data/gone.fits is gone" in messages[0]
    assert "below no configured data_dir" in messages[1]
    assert loads == 1  # the configuration is read once, not once a file
