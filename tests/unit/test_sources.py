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
    assert len(patterns) == len(set(patterns)) == 2 * 6
    assert os.path.join(glob.escape(str(data / "linked" / "deep")), "*.fits") in patterns
