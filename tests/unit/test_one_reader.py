"""One reader: the import, the previews and the cutouts read every file the same way.

For every instrument family (hess_dr_dev.synthetic.FAMILIES) and for event
lists whose energies are in MeV or GeV with the unit given only by the
configuration (``defaults: energy_unit``), the energies the import publishes,
the energies the previews draw and the events a cutout keeps are compared
with an independent astropy reading of the file (its unit known to the test,
not found by hess_dr), through the record the import stores (obs_index row,
GTI rows, layout) and the event cache it fills -- what the services use.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy import units as u
from astropy.io import fits

from hess_dr import config, cutout, ingest, layout, preview, stored
from hess_dr.events import EventCache, events_dir
from hess_dr.soda import parse_cutout
from hess_dr_dev import synthetic as synth

HAWC_GTIS = 40  # (the family's 20,000 are test_families' business)

#: Extra collections: energies in MeV / GeV, no TUNIT, no EUNIT; the
#: configuration alone says the unit.
CONFIGURED_UNITS = {"mev-by-config": "MeV", "gev-by-config": "GeV"}


def _configured_unit_files(directory: Path, unit: str) -> list[Path]:
    energies = np.array([0.05, 0.3, 0.9, 1.0, 2.5, 7.0, 10.0, 42.0]) * u.TeV
    return [synth.write_event_list(directory / f"run_{unit}_{i}.fits.gz", obs_id=700 + i,
                                   energies=energies * (i + 1), energy_unit=unit,
                                   energy_tunit=False, header_overrides={"EUNIT": None},
                                   seed=i)
            for i in range(2)]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Every family plus the configured-unit collections, one configuration."""
    dest = tmp_path_factory.mktemp("one-reader")
    written = synth.write_families(dest, hawc_gti_count=HAWC_GTIS)
    doc = synth.families_config(written, absolute=True)
    files = {name: list(family.event_files) for name, family in written.items()}
    for name, unit in CONFIGURED_UNITS.items():
        directory = dest / name
        files[name] = _configured_unit_files(directory, unit)
        doc["collections"].append({
            "name": name, "data_dir": str(directory), "obs_collection": name.upper(),
            "title_prefix": name, "defaults": {"timesys": "TT", "energy_unit": unit}})
    path = dest / "hess_dr.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest, config.load(path), files


def _known_unit(name: str, events: fits.BinTableHDU) -> u.UnitBase:
    """The unit the test knows the file's energies are in."""
    if name in CONFIGURED_UNITS:
        assert not events.columns["ENERGY"].unit and "EUNIT" not in events.header
        return u.Unit(CONFIGURED_UNITS[name])
    return u.Unit(events.columns["ENERGY"].unit or events.header["EUNIT"])


def _astropy_energies_tev(name: str, path: Path) -> np.ndarray:
    with fits.open(path) as hdus:
        events = hdus["EVENTS"]
        values = np.zeros(0) if events.data is None else np.asarray(events.data["ENERGY"], float)
        return (values * _known_unit(name, events)).to_value(u.TeV)


def _cases(files: dict) -> list:
    return [(name, path) for name, paths in files.items() for path in paths]


@pytest.fixture(scope="module")
def imported(archive):
    """{path: (outcome of the import, the StoredRun the services build from it,
    the event cache)}."""
    dest, cfg, files = archive
    cache_dir = dest / "cache"
    cache = EventCache(events_dir(cache_dir))
    result = {}
    for name, path in _cases(files):
        outcome = ingest.ingest(str(path), cfg, str(dest), "hess_dr", str(cache_dir))
        assert outcome.level == "ok", outcome.message
        obs = outcome.obs
        gti_start = [row["met_start"] for row in outcome.gtis]
        gti_stop = [row["met_stop"] for row in outcome.gtis]
        run = stored.stored_run(stored.row_fields(obs), path, gti_start, gti_stop)
        result[path] = (outcome, run, cache)
    return result


def test_every_family_and_configured_unit_is_covered(archive):
    _, _, files = archive
    assert set(files) == set(synth.FAMILIES) | set(CONFIGURED_UNITS)
    assert all(files.values())


def test_the_layout_says_where_the_unit_comes_from(archive, imported):
    _, _, files = archive
    for name, path in _cases(files):
        outcome, run, _ = imported[path]
        with fits.open(path) as hdus:
            events = hdus["EVENTS"]
            expected = _known_unit(name, events)
            origin = ("configuration" if name in CONFIGURED_UNITS
                      else "TUNIT" if events.columns["ENERGY"].unit else "EUNIT")
        assert u.Unit(run.layout.energy_unit) == expected, path
        assert run.layout.energy_unit_from == origin, path
        assert layout.Layout.from_json(outcome.obs["layout"], path) == run.layout


def test_import_preview_and_cutout_agree_on_every_file(archive, imported):
    _, _, files = archive
    checked_cuts = 0
    for name, path in _cases(files):
        outcome, run, cache = imported[path]
        energies = _astropy_energies_tev(name, path)
        obs = outcome.obs
        # the import
        assert obs["event_count"] == len(energies), path
        if len(energies):
            assert obs["energy_min"] == pytest.approx(energies.min() * 1e12, rel=1e-12), path
            assert obs["energy_max"] == pytest.approx(energies.max() * 1e12, rel=1e-12), path
        else:
            assert obs["energy_min"] is None and obs["energy_max"] is None
        # the previews, from the cache and from the file
        for source in (cache, None):
            drawn = preview.read_events(run, source)
            assert len(drawn) == len(energies), path
            np.testing.assert_allclose(drawn.energy_tev, energies, rtol=1e-12, atol=0)
        # a cutout: an energy window holding some of the events, inclusive
        if len(energies):
            lo, hi = np.percentile(energies, [20, 70])
        else:
            lo, hi = 1.0, 10.0
        want = np.sort(energies[(energies >= lo) & (energies <= hi)])
        spec = parse_cutout({"ENERGY": f"{lo!r} {hi!r}"})
        for source in (cache, None):
            data = cutout.cutout_bytes(run, spec, source)
            with fits.open(io.BytesIO(data), checksum=True) as hdus:
                out = hdus["EVENTS"]
                unit = u.Unit(out.columns["ENERGY"].unit)  # the output always says it
                got = np.sort((np.asarray(out.data["ENERGY"], float) * unit).to_value(u.TeV))
            assert len(got) == len(want), (path, source)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
            checked_cuts += 1
    assert checked_cuts == 2 * len(_cases(files))


def test_configured_unit_is_written_into_cutouts(archive, imported):
    _, _, files = archive
    for name in CONFIGURED_UNITS:
        run = imported[files[name][0]][1]
        data = cutout.cutout_bytes(run, parse_cutout({}), imported[files[name][0]][2])
        with fits.open(io.BytesIO(data)) as hdus:
            assert hdus["EVENTS"].columns["ENERGY"].unit == CONFIGURED_UNITS[name]
            assert any("from the collection configuration" in str(card)
                       for card in hdus["EVENTS"].header["HISTORY"])


def test_stored_record_and_a_fresh_read_give_the_same_files(archive, imported):
    """The services' StoredRun (row, GTI rows, layout) and the reader's Run
    make byte-identical cutouts but for the write date and checksums."""
    dest, cfg, files = archive
    for name, path in _cases(files):
        outcome, run, cache = imported[path]
        fresh = stored.fresh_run(path, cfg.collection_for(path))
        assert fresh.layout == run.layout
        spec = parse_cutout({"ENERGY": "0.5 20"})
        a = fits.open(io.BytesIO(cutout.cutout_bytes(run, spec, cache)))
        b = fits.open(io.BytesIO(cutout.cutout_bytes(fresh, spec)))
        with a, b:
            assert [h.name for h in a] == [h.name for h in b]
            for x, y in zip(a, b):
                skip = {"DATE", "CHECKSUM", "DATASUM"}
                assert [(k, v) for k, v in x.header.items() if k not in skip] == \
                       [(k, v) for k, v in y.header.items() if k not in skip], (path, x.name)
                if x.data is not None:
                    assert x.data.tobytes() == y.data.tobytes(), (path, x.name)
