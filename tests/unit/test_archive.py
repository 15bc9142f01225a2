"""hess_dr_dev.archive: deterministic synthetic archives at CTAO scale."""
from __future__ import annotations

import os

import pytest
from astropy.io import fits

from hess_dr import index
from hess_dr_dev import archive


def _event_files(root):
    return sorted(p for p in root.rglob("*.fits.gz")
                  if p.name != "hdu-index.fits.gz" and "irf" not in p.parts)


def test_archives_are_prefixes_of_each_other(tmp_path):
    small = archive.write_archive(tmp_path / "a", 6, processes=1)
    large = archive.write_archive(tmp_path / "b", 9, processes=1)
    assert [obs_id for _, obs_id, _ in small] == [obs_id for _, obs_id, _ in large[:6]]
    for (path_a, _, _), (path_b, _, _) in zip(small, large):
        with fits.open(path_a) as a, fits.open(path_b) as b:
            assert (a["EVENTS"].data == b["EVENTS"].data).all()
            assert a["EVENTS"].header["TSTART"] == b["EVENTS"].header["TSTART"]


def test_reuse_links_the_runs_of_a_smaller_archive(tmp_path):
    archive.write_archive(tmp_path / "small", 5, processes=1)
    written = archive.write_archive(tmp_path / "large", 8, processes=1, reuse=tmp_path / "small")
    assert len(_event_files(tmp_path / "large")) == 8
    for position, (path, obs_id, name) in enumerate(written):
        spec = archive.run_spec(position)
        assert obs_id == spec["obs_id"] and name == spec["instrument"].name
        previous = archive.run_path(tmp_path / "small", spec)
        if position < 5:  # hard links to the same file, not copies
            assert os.path.samefile(path, previous)
        else:
            assert not previous.exists()


def test_runs_carry_what_publishing_needs(tmp_path):
    archive.write_archive(tmp_path, 8, processes=1)
    instruments = {i.name for i in archive.INSTRUMENTS}
    assert {p.name for p in tmp_path.iterdir()} == instruments
    for path in _event_files(tmp_path):
        with fits.open(path) as hdus:
            header = hdus["EVENTS"].header
            assert header["TELESCOP"] in {i.telescope for i in archive.INSTRUMENTS}
            assert 0 < len(hdus["GTI"].data) <= 3
            assert header["LIVETIME"] == pytest.approx(0.9 * header["ONTIME"])
        refs = index.find_index_files(path, tmp_path / path.relative_to(tmp_path).parts[0])
        types = {ref.hdu_type for ref in refs.irfs(str(header["OBS_ID"]))}
        assert {"aeff", "edisp", "psf", "bkg"} <= types
        assert all(ref.path.exists() for ref in refs.irfs(str(header["OBS_ID"])))
