"""Gammapy's own TAP -> DataStore reader against a live hess_dr, then a fit.

Runs in the separate venv of Gammapy 2.1 (astropy >= 6; made by ``make
gammapy2-venv``), not in DaCHS's: ``python gammapy_reader_driver.py TAP_URL
OBS_IDS SAVE_DIR CLIENT_PATH``.  It loads Gammapy's unreleased reader
(``make_data_store_from_query_result``, ../shared/clients) unmodified,
queries ``hess_dr.obs_index`` for the runs, lets the reader download and
index them, applies the documented workaround for the reader's GTI bug
(HDU_CLASS ``git``), fits a power law to the 1D spectrum of the Crab and
prints one JSON document: downloads, hdu-index rows, fit.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import astropy.units as u
import pyvo
from astropy.coordinates import Angle, SkyCoord
from astropy.io import fits
from astropy.table import Table
from regions import CircleSkyRegion

CRAB = SkyCoord(83.633, 22.0145, unit="deg", frame="icrs")


def load_reader(path: str):
    spec = importlib.util.spec_from_file_location("gammapy_ivoa_main", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fix_gti_hdu_class(save_dir: Path) -> int:
    """The documented workaround: the reader writes HDU_CLASS 'git' for the
    GTI HDUs; Gammapy needs 'gti'.  Returns the number of rows fixed."""
    path = save_dir / "hdu-index.fits.gz"
    table = Table.read(path)
    wrong = table["HDU_CLASS"] == "git"
    table["HDU_CLASS"][wrong] = "gti"
    table.write(path, overwrite=True)
    return int(wrong.sum())


def spectrum_fit(save_dir: Path) -> dict:
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (ReflectedRegionsBackgroundMaker, SafeMaskMaker,
                                SpectrumDatasetMaker)
    from gammapy.maps import MapAxis, RegionGeom
    from gammapy.modeling import Fit
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    store = DataStore.from_dir(save_dir)
    observations = store.get_observations(required_irf="full-enclosure")
    energy = MapAxis.from_energy_bounds(0.5, 40, 10, unit="TeV")
    true_energy = MapAxis.from_energy_bounds(0.3, 60, 20, unit="TeV", name="energy_true")
    geom = RegionGeom.create(region=CircleSkyRegion(CRAB, Angle(0.11, "deg")), axes=[energy])
    maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"],
                                 containment_correction=True)
    background = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=true_energy)
    datasets = Datasets()
    gtis = []
    for observation in observations:
        gtis.append(len(observation.gti.table))
        dataset = maker.run(empty.copy(name=str(observation.obs_id)), observation)
        dataset = safe.run(background.run(dataset, observation), observation)
        datasets.append(dataset)
    stacked = Datasets([datasets.stack_reduce()])
    model = PowerLawSpectralModel(index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1",
                                  reference="1 TeV")
    stacked.models = [SkyModel(spectral_model=model, name="crab")]
    result = Fit().run(stacked)
    return {"fit_success": bool(result.success),
            "index": float(model.index.value),
            "amplitude": float(model.amplitude.quantity.to_value("cm-2 s-1 TeV-1")),
            "observations": [int(o.obs_id) for o in observations],
            "gti_rows": gtis,
            "on_counts": float(stacked[0].counts.data.sum())}


def main(tap_url, obs_ids, save_dir, client_path):
    save_dir = Path(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    reader = load_reader(client_path)
    ids = ", ".join(f"'{o}'" for o in obs_ids.split(","))
    results = pyvo.dal.TAPService(tap_url).run_sync(
        f"SELECT * FROM hess_dr.obs_index WHERE obs_id IN ({ids})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader.make_data_store_from_query_result(results, save_dir)
        hdu_index = Table.read(save_dir / "hdu-index.fits.gz")
        rows = [(int(r["OBS_ID"]), str(r["HDU_TYPE"]), str(r["HDU_CLASS"])) for r in hdu_index]
        fixed = fix_gti_hdu_class(save_dir)
        fit = spectrum_fit(save_dir)
    downloads = sorted(p.name for p in save_dir.iterdir()
                       if p.name.startswith("TapResult-"))
    with fits.open(save_dir / "obs-index.fits.gz") as hdus:
        obs_index_ids = sorted(int(v) for v in hdus[1].data["OBS_ID"])
    print(json.dumps({
        "downloads": downloads, "hdu_index_rows": rows, "gti_rows_fixed": fixed,
        "obs_index_ids": obs_index_ids, "fit": fit,
        "multiple_hdu_warnings": sum("multiple HDU" in str(w.message) for w in caught),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
