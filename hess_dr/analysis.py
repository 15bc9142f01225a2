"""On-the-fly point-source analyses (the ``point_source`` UWS job).

Pure: no DaCHS import.  The DaCHS glue (res/analysis.py) validates a
job's parameters with :func:`check_parameters` / :func:`parse_parameters`,
looks the candidate runs up in ``hess_dr.obs_index`` with
:func:`candidate_query`, picks the runs with :func:`select_runs` (which
ends in :func:`readable_by`, the one place deciding what a user may
analyse) and calls :func:`run_point_source`, which writes every result
file into the job's working directory:

``counts-map.png``
    counts around the position (all runs, the job's energy range), the ON
    region, each run's reflected OFF regions and the pointings;
``spectrum.png``
    counts with the fitted model's prediction and the residuals; flux
    points with the fitted model and its error band;
``flux-points.fits``, ``flux-points.vot``
    the flux points (GADF SED format, ``dnde``) as FITS and VOTable;
``fit.json``
    model, parameter values and errors (for ``pl``: ``index`` and
    ``amplitude`` in cm-2 s-1 TeV-1 at 1 TeV), ``dnde_1tev``, the fit
    statistic, the event statistics, the runs used by obs_publisher_did;
``analysis.log``
    what the job did, step by step (also kept when it fails);
``provenance.json``, ``provenance.provn``, ``provenance.png``
    its W3C PROV provenance (:mod:`hess_dr.provenance`);
``index.html``
    a page showing the plots and linking every result.

The analysis is Gammapy 1.3's 1D spectral analysis: per run an ON/OFF
spectrum dataset (``SpectrumDatasetMaker`` with the PSF containment
correction of full-enclosure IRFs, reflected-regions background, the
safe energy range of the run's effective area), the runs stacked, a
forward-folding fit (WSTAT) and flux points.
"""
from __future__ import annotations

import dataclasses
import datetime
import html
import json
import logging
import math
import os
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable, Mapping

from . import access

#: Spectral models of the MODEL parameter.
MODELS = {
    "pl": "power law",
    "lp": "log-parabola",
    "ecpl": "power law with exponential cut-off",
}

#: Reference energy of every model (TeV): amplitudes are dN/dE at 1 TeV.
REFERENCE_TEV = 1.0

#: Unit of differential fluxes in results.
DNDE_UNIT = "cm-2 s-1 TeV-1"


@dataclasses.dataclass(frozen=True)
class Limit:
    """Range, unit and meaning of a numeric parameter."""

    low: float
    high: float
    unit: str
    description: str
    default: float | None = None
    include_low: bool = True


#: The numeric parameters (names as clients send them, case-insensitive).
NUMBERS = {
    "RA": Limit(0.0, 360.0, "deg", "Right ascension of the source (ICRS)"),
    "DEC": Limit(-90.0, 90.0, "deg", "Declination of the source (ICRS)"),
    "RADIUS": Limit(0.01, 0.5, "deg", "Radius of the ON region around the source", 0.11),
    "EMIN": Limit(0.01, 1000.0, "TeV", "Lowest reconstructed energy of the analysis", 0.1),
    "EMAX": Limit(0.01, 1000.0, "TeV", "Highest reconstructed energy of the analysis", 100.0),
    "TMIN": Limit(30000.0, 100000.0, "d", "Start of the time range (MJD UTC); runs and"
                  " events before it are left out"),
    "TMAX": Limit(30000.0, 100000.0, "d", "End of the time range (MJD UTC)"),
    "MAX_OFFSET": Limit(0.1, 10.0, "deg", "Largest distance between a run's pointing and"
                        " the source", 2.0),
}
#: Text parameters.
TEXTS = {
    "COLLECTION": "Only runs of this collection (ObsCore obs_collection, or hess_dr's"
                  " collection name); default all",
    "MODEL": "Spectral model: " + ", ".join(f"{k} ({v})" for k, v in MODELS.items()),
}
PARAMETER_NAMES = tuple(NUMBERS) + tuple(TEXTS)
REQUIRED = ("RA", "DEC")
MAX_TEXT = 128


class ParameterError(ValueError):
    """A job parameter is missing or invalid (the job is refused)."""

    def __init__(self, message: str, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


class AnalysisError(RuntimeError):
    """The analysis cannot produce a result (the job ends in ERROR)."""


class NoRunsError(AnalysisError):
    """No run the user may analyse matches the job's parameters."""


@dataclasses.dataclass(frozen=True)
class Parameters:
    """The validated parameters of a point_source job."""

    ra: float
    dec: float
    radius: float = NUMBERS["RADIUS"].default
    emin: float = NUMBERS["EMIN"].default
    emax: float = NUMBERS["EMAX"].default
    tmin: float | None = None
    tmax: float | None = None
    max_offset: float = NUMBERS["MAX_OFFSET"].default
    collection: str | None = None
    model: str = "pl"

    def as_dict(self) -> dict:
        """{NAME: value} as the service documents them (None: not given)."""
        return {name: getattr(self, name.lower()) for name in PARAMETER_NAMES}


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        if len(value) > 1:
            raise ParameterError("given more than once")
        value = value[0] if value else None
        return _text(value)
    text = str(value).strip()
    return text or None


def _number(name: str, value) -> float | None:
    limit = NUMBERS[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = _text(value)
        if text is None:
            return None
        if len(text) > 40:
            raise ParameterError(f"{name} is not a number (too long)", name)
        try:
            number = float(text)
        except ValueError:
            raise ParameterError(f"{name} must be a number, not {text!r}", name) from None
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be a finite number, not {number}", name)
    if not limit.low <= number <= limit.high:
        raise ParameterError(f"{name} must be between {limit.low:g} and {limit.high:g}"
                             f" {limit.unit}, not {number:g}", name)
    return number


def _word(name: str, value) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if len(text) > MAX_TEXT:
        raise ParameterError(f"{name} is too long ({len(text)} characters, at most"
                             f" {MAX_TEXT})", name)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ParameterError(f"{name} contains control characters", name)
    if name == "MODEL":
        text = text.lower()
        if text not in MODELS:
            raise ParameterError(f"MODEL must be one of {', '.join(MODELS)}, not"
                                 f" {text[:20]!r}", name)
    return text


def _values(raw: Mapping) -> dict:
    """{NAME: parsed value or None} of the known parameters in ``raw``
    (names case-insensitive; other keys ignored)."""
    given = {}
    for key, value in raw.items():
        name = str(key).upper()
        if name not in PARAMETER_NAMES:
            continue
        if name in given and given[name] is not None and _text(value) is not None:
            raise ParameterError(f"{name} given more than once", name)
        try:
            given[name] = (_number(name, value) if name in NUMBERS else _word(name, value))
        except ParameterError as exc:
            if exc.parameter is None:
                raise ParameterError(f"{name} {exc}", name) from None
            raise
    return given


def check_parameters(raw: Mapping) -> dict:
    """Validate the parameters present in ``raw`` (a request's values,
    strings or lists of strings; UWS may set them in several requests) and
    the relations between those given together.  Returns {NAME: value}.

    Raises
    ------
    ParameterError
    """
    values = _values(raw)
    _check_relations(values)
    return values


def _check_relations(values: dict) -> None:
    emin, emax = values.get("EMIN"), values.get("EMAX")
    if emin is not None and emax is not None and not emax > emin:
        raise ParameterError(f"EMAX ({emax:g} TeV) must be greater than EMIN"
                             f" ({emin:g} TeV)", "EMAX")
    tmin, tmax = values.get("TMIN"), values.get("TMAX")
    if tmin is not None and tmax is not None and not tmax > tmin:
        raise ParameterError(f"TMAX ({tmax:g}) must be after TMIN ({tmin:g})", "TMAX")


def parse_parameters(raw: Mapping) -> Parameters:
    """The complete parameters of a job (defaults filled in).

    Raises
    ------
    ParameterError
        If a value is invalid or RA/DEC is missing.
    """
    values = _values(raw)
    for name in REQUIRED:
        if values.get(name) is None:
            raise ParameterError(f"{name} is required ({NUMBERS[name].description},"
                                 f" {NUMBERS[name].unit})", name)
    for name, limit in NUMBERS.items():
        if values.get(name) is None and limit.default is not None:
            values[name] = limit.default
    if values.get("MODEL") is None:
        values["MODEL"] = "pl"
    _check_relations(values)
    return Parameters(**{name.lower(): value for name, value in values.items()})


# ------------------------------------------------------------ run selection

#: hess_dr.obs_index columns a candidate run is made of.
CANDIDATE_COLUMNS = ("obs_publisher_did", "obs_id", "collection", "obs_collection",
                     "target_name", "ra_pnt", "dec_pnt", "t_min", "t_max", "livetime",
                     "safe_energy_lo", "safe_energy_hi", "analysis_mode", "irf_types",
                     "layout", "accref", "owner", "obs_release_date")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A run as hess_dr.obs_index describes it (see :data:`CANDIDATE_COLUMNS`),
    and its event file on this machine (``path``, set by the glue)."""

    obs_publisher_did: str
    obs_id: str
    collection: str | None = None
    obs_collection: str | None = None
    target_name: str | None = None
    ra_pnt: float | None = None
    dec_pnt: float | None = None
    t_min: float | None = None
    t_max: float | None = None
    livetime: float | None = None
    safe_energy_lo: float | None = None
    safe_energy_hi: float | None = None
    analysis_mode: str | None = None
    irf_types: str | None = None
    layout: str | None = None
    accref: str | None = None
    owner: str | None = None
    #: First public day (obs_index.obs_release_date), see hess_dr.access.
    release: datetime.date | None = None
    path: str | None = None

    @classmethod
    def from_row(cls, row: Mapping, path: str | None = None) -> "Candidate":
        values = {}
        for name in CANDIDATE_COLUMNS:
            value = row.get(name)
            if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                value = value.item()
            values[name] = value
        values["obs_id"] = str(values["obs_id"])
        release = access.stored_release(values.pop("obs_release_date"))
        return cls(**values, release=release, path=path)


def candidate_query(params: Parameters, extra_columns: Iterable[str] = ()) -> tuple[str, dict]:
    """SQL (psycopg2 style) selecting the candidate runs from
    hess_dr.obs_index: pointed runs whose pointing lies within MAX_OFFSET
    of the position (q3c on the indexed s_ra/s_dec, which are the
    pointing for such runs), overlapping the time range, of the
    collection.  :func:`select_runs` checks the same again exactly.
    ``extra_columns`` are selected too (e.g. the file's path)."""
    columns = ", ".join((*CANDIDATE_COLUMNS, *extra_columns))
    conditions = ["s_region_origin = 'pointing'", "ra_pnt IS NOT NULL",
                  "dec_pnt IS NOT NULL",
                  "q3c_join(%(ra)s, %(dec)s, s_ra, s_dec, %(max_offset)s)"]
    args = {"ra": params.ra, "dec": params.dec,
            # a hair wider: the exact cut is select_runs'
            "max_offset": params.max_offset * (1 + 1e-9) + 1e-9}
    if params.tmin is not None:
        conditions.append("t_max >= %(tmin)s")
        args["tmin"] = params.tmin
    if params.tmax is not None:
        conditions.append("t_min <= %(tmax)s")
        args["tmax"] = params.tmax
    if params.collection is not None:
        conditions.append("(obs_collection = %(collection)s OR collection = %(collection)s)")
        args["collection"] = params.collection
    sql = (f"SELECT {columns} FROM hess_dr.obs_index WHERE {' AND '.join(conditions)}"
           " ORDER BY t_min, obs_id")
    return sql, args


def angular_distance(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance in degrees (Vincenty formula, as astropy's)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (ra1, dec1, ra2, dec2))
    dlon = lon2 - lon1
    num1 = math.cos(lat2) * math.sin(dlon)
    num2 = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    den = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.degrees(math.atan2(math.hypot(num1, num2), den))


#: IRFs the analysis needs (GADF HDU types).
NEEDED_IRFS = ("aeff", "edisp", "psf")


def readable_by(runs: Iterable[Candidate], user: str | None, groups: Iterable[str] = (),
                today: datetime.date | None = None) -> list[Candidate]:
    """The runs ``user`` may analyse: the rule of every other path to the
    data (:func:`hess_dr.access.denial` on the stored owner and release
    date), so a job never reads what its owner could not download.

    Parameters
    ----------
    runs : iterable of Candidate
    user : str or None
        The authenticated user who submitted the job (None: anonymous).
    groups : iterable of str
        The groups ``user`` belongs to (DaCHS's ``dc.groups``; a user is
        in the group of their own name).
    today : date, optional
        Default: today (UTC).
    """
    requester = (access.Requester(user=user, groups=frozenset(groups) | {user})
                 if user else access.Requester.anonymous())
    return access.readable(runs, requester, today)


@dataclasses.dataclass
class Selection:
    """The runs a job analyses and the candidates it left out, with why."""

    runs: list[Candidate]
    skipped: list[tuple[Candidate, str]]


def select_runs(candidates: Iterable[Candidate], params: Parameters, user: str | None,
                groups: Iterable[str] = (), today: datetime.date | None = None) -> Selection:
    """Pick the runs of a job from the candidates of :func:`candidate_query`.

    Exact cuts (pointing within MAX_OFFSET, time overlap, collection),
    then what the analysis needs (full-enclosure IRFs with aeff, edisp and
    psf), then :func:`readable_by`.

    Raises
    ------
    NoRunsError
        If no run is left; the message says where and why.
    """
    kept, skipped = [], []
    for run in candidates:
        if run.ra_pnt is None or run.dec_pnt is None:
            continue
        if angular_distance(params.ra, params.dec, run.ra_pnt, run.dec_pnt) > params.max_offset:
            continue
        if params.tmin is not None and (run.t_max is None or run.t_max < params.tmin):
            continue
        if params.tmax is not None and (run.t_min is None or run.t_min > params.tmax):
            continue
        if params.collection is not None and params.collection not in (
                run.obs_collection, run.collection):
            continue
        irfs = (run.irf_types or "").split()
        missing = [irf for irf in NEEDED_IRFS if irf not in irfs]
        if missing:
            skipped.append((run, f"no {'/'.join(missing)} IRF"))
            continue
        if run.analysis_mode != "full-enclosure":
            skipped.append((run, f"IRFs are {run.analysis_mode or 'of unknown kind'},"
                                 " point_source needs full-enclosure IRFs"))
            continue
        kept.append(run)
    readable = readable_by(kept, user, groups, today)
    for run in kept:
        if run not in readable:
            skipped.append((run, "proprietary: not readable by "
                                 + (user or "anonymous users")))
    if not readable:
        where = (f"No runs found with a pointing within {params.max_offset:g} deg of"
                 f" RA={params.ra:g}, DEC={params.dec:g}")
        if params.tmin is not None or params.tmax is not None:
            where += (f" between MJD {'-inf' if params.tmin is None else f'{params.tmin:g}'}"
                      f" and {'+inf' if params.tmax is None else f'{params.tmax:g}'}")
        if params.collection is not None:
            where += f" in collection {params.collection!r}"
        if skipped:
            reasons = sorted({reason for _, reason in skipped})
            where += (f" that can be analysed ({len(skipped)} candidate(s) left out: "
                      + "; ".join(reasons) + ")")
        raise NoRunsError(where)
    return Selection(runs=readable, skipped=skipped)


# ------------------------------------------------------------------ analysis

@dataclasses.dataclass(frozen=True)
class JobInfo:
    """What the analysis records about its job (provenance, pages)."""

    job_id: str
    job_url: str
    authority: str
    user: str | None = None
    job_name: str = "point_source"


#: Result files -> (media type, description).
RESULTS = {
    "index.html": ("text/html", "The job's results on one page"),
    "counts-map.png": ("image/png", "Counts map with the ON and OFF regions"),
    "spectrum.png": ("image/png", "Counts, model and residuals; flux points and model"),
    "flux-points.fits": ("application/fits", "Flux points (GADF SED, FITS)"),
    "flux-points.vot": ("application/x-votable+xml", "Flux points (VOTable)"),
    "fit.json": ("application/json", "Fitted model, errors, statistic, runs used"),
    "analysis.log": ("text/plain", "Log of the analysis"),
    "provenance.json": ("application/json", "Provenance (W3C PROV-JSON)"),
    "provenance.provn": ("text/provenance-notation", "Provenance (W3C PROV-N)"),
    "provenance.png": ("image/png", "Provenance graph"),
}

LOG_NAME = "analysis.log"


def job_logger(workdir: str | os.PathLike) -> tuple[logging.Logger, logging.Handler]:
    """A logger writing ``analysis.log`` in the job's directory (Gammapy's
    and Python's warnings go there too); detach the handler at the end."""
    handler = logging.FileHandler(Path(workdir) / LOG_NAME, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger("hess_dr.analysis")
    logger.setLevel(logging.INFO)
    for name in ("hess_dr.analysis", "gammapy", "py.warnings"):
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("gammapy").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return logger, handler


def close_logger(handler: logging.Handler) -> None:
    for name in ("hess_dr.analysis", "gammapy", "py.warnings"):
        logging.getLogger(name).removeHandler(handler)
    logging.captureWarnings(False)
    handler.close()


def _file_name(path: str | None) -> str:
    return os.path.basename(path or "")


def _observation(run: Candidate, workdir: Path, collections: Mapping | None):
    """The Gammapy Observation of a run: read from the event file when it
    holds its IRFs, else from a bundle (events, GTIs and every IRF)
    written into the job's directory."""
    from gammapy.data import Observation
    from .layout import Layout
    inside = True
    if run.layout:
        try:
            layout = Layout.from_json(run.layout, run.path)
            here = os.path.abspath(run.path)
            inside = all(os.path.abspath(ref.path) == here for ref in layout.irfs)
        except (ValueError, TypeError, KeyError):
            inside = True
    if inside:
        return Observation.read(run.path)
    from . import cutout, dl3, products
    collection = (collections or {}).get(run.collection)
    if collection is None:
        raise AnalysisError(f"observation {run.obs_id}: unknown collection {run.collection}")
    bundle = workdir / f"bundle-{run.obs_id}.fits"
    bundle.write_bytes(cutout.write_bytes(products.bundle(
        dl3.read_run(run.path, collection, resolve_psf=False))))
    try:
        return Observation.read(bundle)
    finally:
        bundle.unlink()


def spectral_model(name: str):
    """A Gammapy spectral model with starting values (reference 1 TeV)."""
    import astropy.units as u
    from gammapy.modeling.models import (ExpCutoffPowerLawSpectralModel,
                                         LogParabolaSpectralModel, PowerLawSpectralModel)
    amplitude = 1e-12 * u.Unit(DNDE_UNIT)
    reference = REFERENCE_TEV * u.TeV
    if name == "pl":
        return PowerLawSpectralModel(index=2.5, amplitude=amplitude, reference=reference)
    if name == "lp":
        return LogParabolaSpectralModel(alpha=2.5, beta=0.1, amplitude=amplitude,
                                        reference=reference)
    if name == "ecpl":
        return ExpCutoffPowerLawSpectralModel(index=2.2, amplitude=amplitude,
                                              reference=reference,
                                              lambda_=0.05 * u.Unit("TeV-1"))
    raise ParameterError(f"unknown MODEL {name!r}", "MODEL")


def _parameter_values(model) -> tuple[list, dict]:
    """The fitted parameters as a list of dicts and a {name: value,
    name_err: error} mapping (amplitudes in cm-2 s-1 TeV-1)."""
    import astropy.units as u
    rows, flat = [], {}
    for parameter in model.parameters:
        value, error = parameter.value, parameter.error
        unit = parameter.unit.to_string()
        if parameter.name == "amplitude":
            factor = (1 * parameter.unit).to_value(u.Unit(DNDE_UNIT))
            value, error, unit = value * factor, error * factor, DNDE_UNIT
        rows.append({"name": parameter.name, "value": float(value), "error": float(error),
                     "unit": unit, "frozen": bool(parameter.frozen)})
        flat[parameter.name] = float(value)
        if not parameter.frozen:
            flat[f"{parameter.name}_err"] = float(error)
    return rows, flat


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


def run_point_source(params: Parameters, runs: list[Candidate], workdir: str | os.PathLike,
                     job: JobInfo, *, checksums: Mapping[str, str] | None = None,
                     collections: Mapping | None = None, software: dict | None = None,
                     selection_note: str = "", log: logging.Logger | None = None,
                     progress: Callable[[str], None] | None = None) -> dict:
    """Run the analysis of ``runs`` and write every result into ``workdir``.

    Parameters
    ----------
    params : Parameters
    runs : list of Candidate
        The runs :func:`select_runs` picked (``path`` set).
    workdir : path-like
        The job's working directory.
    job : JobInfo
    checksums : mapping, optional
        {obs_publisher_did: SHA-256} known already; others are taken from
        the stored layout when the file is unchanged, else computed.
    collections : mapping, optional
        {collection name: hess_dr.config.Collection}, to read runs whose
        IRFs live in separate files.
    software : dict, optional
        {name: version} recorded in the provenance (default
        :func:`hess_dr.provenance.software_versions`).
    selection_note : str
        What the selection left out (logged and recorded).
    log : logging.Logger, optional
        Default: the job's ``analysis.log`` logger (the caller owns it).
    progress : callable, optional
        Called with a short text at each step.

    Returns
    -------
    dict
        The content of ``fit.json``.

    Raises
    ------
    AnalysisError
        With a readable message when no result can be made.
    """
    import astropy.units as u
    import numpy as np
    from astropy.coordinates import SkyCoord
    from astropy.time import Time
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (ReflectedRegionsBackgroundMaker, SafeMaskMaker,
                                SpectrumDatasetMaker)
    from gammapy.maps import MapAxis, RegionGeom, WcsGeom
    from gammapy.modeling import Fit
    from gammapy.modeling.models import SkyModel
    from regions import CircleSkyRegion

    from . import provenance

    workdir = Path(workdir)
    log = log or logging.getLogger("hess_dr.analysis")
    say = progress or (lambda text: None)
    checksums = dict(checksums or {})
    started = time.perf_counter()
    software = software or provenance.software_versions()
    record = provenance.JobProvenance(job.job_url, job.job_name, job.authority, job.user,
                                      params.as_dict(), software)
    log.info("job %s (%s) by %s: %s", job.job_id, job.job_name, job.user or "anonymous",
             json.dumps(params.as_dict()))
    log.info("software: %s", ", ".join(f"{k} {v}" for k, v in software.items()))

    # ---- inputs and run selection
    with record.step("run-selection", "Run selection (hess_dr.obs_index, access rules)",
                     software=("hess_dr",)) as step:
        dataset_ids = {}
        for run in runs:
            sha = checksums.get(run.obs_publisher_did) or provenance.checksum_of(
                run.path, run.layout)
            checksums[run.obs_publisher_did] = sha
            dataset_ids[run.obs_publisher_did] = record.dataset(
                run.obs_publisher_did, obs_id=run.obs_id, sha256=sha,
                file_name=_file_name(run.path), collection=run.obs_collection)
        step.describe(candidates=len(runs), note=selection_note or None)
        selected = step.generate("selected-runs", "Runs selected for the analysis", {
            "obs_ids": " ".join(run.obs_id for run in runs),
            "obs_publisher_dids": " ".join(run.obs_publisher_did for run in runs)})
    log.info("%d run(s) selected: %s", len(runs), ", ".join(run.obs_id for run in runs))
    if selection_note:
        log.info("left out: %s", selection_note)

    target = SkyCoord(params.ra, params.dec, unit="deg", frame="icrs")
    on_region = CircleSkyRegion(center=target, radius=params.radius * u.deg)
    energy_axis = MapAxis.from_energy_bounds(params.emin, params.emax, nbin=10,
                                             per_decade=True, unit="TeV", name="energy")
    true_axis = MapAxis.from_energy_bounds(params.emin / 2, params.emax * 2, nbin=20,
                                           per_decade=True, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(geom=RegionGeom.create(region=on_region,
                                                          axes=[energy_axis]),
                                   energy_axis_true=true_axis)
    maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"],
                                 containment_correction=True)
    exclusion_radius = max(0.3, 2 * params.radius)
    map_width = 2 * min(params.max_offset + 0.5, 3.0)
    sky_geom = WcsGeom.create(skydir=target, binsz=0.02, width=(map_width, map_width),
                              frame="icrs", proj="TAN")
    exclusion = ~sky_geom.region_mask([CircleSkyRegion(target, exclusion_radius * u.deg)])
    background_maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)

    # ---- data reduction, one run at a time
    datasets = Datasets()
    observations = []
    dataset_entities = []
    for number, run in enumerate(runs, 1):
        say(f"reducing run {run.obs_id} ({number}/{len(runs)})")
        with record.step(f"reduction/{run.obs_id}",
                         f"Data reduction of observation {run.obs_id}",
                         used=[(dataset_ids[run.obs_publisher_did], "dl3-event-list"),
                               (selected, "selection")]) as step:
            observation = _observation(run, workdir, collections)
            if ((params.tmin is not None and run.t_min < params.tmin)
                    or (params.tmax is not None and run.t_max > params.tmax)):
                window = Time([max(run.t_min, params.tmin or run.t_min),
                               min(run.t_max, params.tmax or run.t_max)],
                              format="mjd", scale="utc")
                observation = observation.select_time(window)
                if observation.gti.time_sum.to_value("s") <= 0:
                    log.info("run %s: no good time in the time range, left out", run.obs_id)
                    step.describe(outcome="no good time in the time range")
                    continue
            dataset = maker.run(empty.copy(name=f"obs_{run.obs_id}"), observation)
            dataset = background_maker.run(dataset, observation)
            if dataset.counts_off is None or float(np.sum(dataset.acceptance_off.data)) <= 0:
                log.info("run %s: no reflected OFF region (source at %.2f deg from the"
                         " pointing), left out", run.obs_id,
                         observation.get_pointing_icrs(observation.tmid).separation(
                             target).deg)
                step.describe(outcome="no reflected OFF region")
                continue
            safe = _safe_mask_maker(observation, run, log)
            dataset = safe.run(dataset, observation)
            if not dataset.mask_safe.data.any():
                log.info("run %s: safe energy range outside %g-%g TeV, left out",
                         run.obs_id, params.emin, params.emax)
                step.describe(outcome="safe energy range outside the job's")
                continue
            counts_on = int(dataset.counts.data[dataset.mask_safe.data].sum())
            counts_off = int(dataset.counts_off.data[dataset.mask_safe.data].sum())
            livetime = float(observation.observation_live_time_duration.to_value("s"))
            lo, hi = _safe_range(dataset)
            step.describe(counts_on=counts_on, counts_off=counts_off, livetime_s=livetime,
                          safe_energy_lo_tev=lo, safe_energy_hi_tev=hi,
                          off_regions=_off_region_count(dataset))
            entity = step.generate(f"dataset/{run.obs_id}",
                                   f"ON/OFF spectrum dataset of observation {run.obs_id}",
                                   {"counts_on": counts_on, "counts_off": counts_off,
                                    "livetime_s": livetime, "safe_energy_lo_tev": lo,
                                    "safe_energy_hi_tev": hi},
                                   derived_from=[dataset_ids[run.obs_publisher_did]])
        log.info("run %s: %d ON, %d OFF counts (alpha %.3f), live time %.0f s, safe"
                 " energies %.3g-%.3g TeV", run.obs_id, counts_on, counts_off,
                 float(np.mean(dataset.alpha.data)), livetime, lo, hi)
        datasets.append(dataset)
        observations.append((run, observation))
        dataset_entities.append(entity)
    if not datasets:
        raise AnalysisError("None of the selected runs gives a usable ON/OFF spectrum"
                            " (see analysis.log)")
    used_runs = [run for run, _ in observations]

    # ---- stacking
    say("stacking")
    with record.step("stacking", "Stacking of the runs' spectrum datasets",
                     used=[(entity, "run-dataset") for entity in dataset_entities]) as step:
        stacked = datasets.stack_reduce(name="stacked")
        info = stacked.info_dict()
        statistics = {
            "counts_on": int(info["counts"]), "counts_off": int(info["counts_off"]),
            "excess": _finite(info["excess"]), "alpha": _finite(info["alpha"]),
            "significance": _finite(info["sqrt_ts"]),
            "livetime_s": _finite(info["livetime"].to_value("s")),
        }
        lo, hi = _safe_range(stacked)
        statistics["safe_energy_range_tev"] = [lo, hi]
        step.describe(**{k: v for k, v in statistics.items() if not isinstance(v, list)})
        stacked_entity = step.generate("dataset/stacked", "Stacked ON/OFF spectrum dataset",
                                       {k: v for k, v in statistics.items()
                                        if not isinstance(v, list)},
                                       derived_from=dataset_entities)
    log.info("stacked: %d ON, %d OFF, excess %.1f, significance %.1f sigma, safe energies"
             " %.3g-%.3g TeV", statistics["counts_on"], statistics["counts_off"],
             statistics["excess"] or 0, statistics["significance"] or 0, lo, hi)
    if statistics["counts_on"] == 0:
        raise AnalysisError("No ON counts in the safe energy range: nothing to fit")

    # ---- fit
    say("fitting")
    with record.step("fit", f"Fit of a {MODELS[params.model]} (WSTAT, forward folding)",
                     used=[(stacked_entity, "dataset")]) as step:
        model = SkyModel(spectral_model=spectral_model(params.model), name="source")
        stacked.models = [model]
        result = Fit().run(datasets=[stacked])
        if not result.success:
            raise AnalysisError(f"The fit of the {MODELS[params.model]} did not converge:"
                                f" {result.message}")
        rows, flat = _parameter_values(model.spectral_model)
        if params.model == "ecpl" and flat.get("lambda_", 0) > 0:
            flat["e_cutoff_tev"] = 1 / flat["lambda_"]
            flat["e_cutoff_tev_err"] = flat["lambda__err"] / flat["lambda_"] ** 2
        dnde, dnde_err = model.spectral_model.evaluate_error(REFERENCE_TEV * u.TeV)
        fit_summary = {
            "model": params.model, "model_name": MODELS[params.model],
            "gammapy_model": type(model.spectral_model).__name__,
            **flat,
            "amplitude_unit": DNDE_UNIT, "reference_tev": REFERENCE_TEV,
            "dnde_1tev": float(dnde.to_value(DNDE_UNIT)),
            "dnde_1tev_err": float(dnde_err.to_value(DNDE_UNIT)),
            "parameters": rows,
            "statistic": {"name": "wstat", "value": float(result.total_stat)},
            "fit": {"success": bool(result.success), "message": str(result.message),
                    "backend": result.optimize_result.backend,
                    "method": result.optimize_result.method,
                    "nfev": int(result.optimize_result.nfev)},
        }
        step.describe(statistic=float(result.total_stat), success=bool(result.success))
        model_entity = step.generate("fitted-model", f"Fitted {MODELS[params.model]}",
                                     {k: v for k, v in flat.items()},
                                     derived_from=[stacked_entity])
    log.info("fit (%s): %s; statistic %.2f", params.model,
             ", ".join(f"{r['name']} = {r['value']:.4g} +- {r['error']:.2g} {r['unit']}"
                       for r in rows if not r["frozen"]), result.total_stat)

    # ---- flux points
    say("flux points")
    with record.step("flux-points", "Flux points (likelihood profile per energy bin)",
                     used=[(stacked_entity, "dataset"), (model_entity, "model")]) as step:
        flux_points = _flux_points(stacked, lo, hi)
        table = flux_points.to_table(sed_type="dnde", format="gadf-sed")
        step.describe(bins=len(table))
        points_entity = step.generate("flux-points", "Flux points", {"bins": len(table)},
                                      derived_from=[stacked_entity, model_entity])
    log.info("flux points: %d bins between %.3g and %.3g TeV", len(table), lo, hi)
    flux_points.write(workdir / "flux-points.fits", sed_type="dnde", format="gadf-sed",
                      overwrite=True)
    _write_votable(table, workdir / "flux-points.vot", params)

    # ---- plots
    say("plots")
    with record.step("plots", "Counts map and spectrum plots (matplotlib)",
                     used=[(stacked_entity, "dataset"), (model_entity, "model"),
                           (points_entity, "flux-points")]
                     + [(entity, "run-dataset") for entity in dataset_entities]) as step:
        _counts_map_png(workdir / "counts-map.png", observations, datasets, sky_geom,
                        on_region, params)
        _spectrum_png(workdir / "spectrum.png", stacked, flux_points, model, params, lo, hi)
        plots_entity = step.generate("plots", "Counts map and spectrum figures")

    # ---- fit.json and provenance
    fit_summary.update({
        "statistics": statistics,
        "runs": [run.obs_publisher_did for run in used_runs],
        "obs_ids": [run.obs_id for run in used_runs],
        "checksums": {run.obs_publisher_did: checksums[run.obs_publisher_did]
                      for run in used_runs},
        "job": {"id": job.job_id, "url": job.job_url, "name": job.job_name,
                "parameters": params.as_dict(), "owner": job.user},
        "software": software,
        "wall_time_s": round(time.perf_counter() - started, 3),
    })
    (workdir / "fit.json").write_text(json.dumps(fit_summary, indent=1) + "\n",
                                      encoding="utf-8")
    derived = {
        "fit.json": [model_entity, stacked_entity],
        "flux-points.fits": [points_entity], "flux-points.vot": [points_entity],
        "counts-map.png": [plots_entity], "spectrum.png": [plots_entity],
        "analysis.log": [], "index.html": [plots_entity, model_entity],
    }
    for name, sources in derived.items():
        record.result(name, RESULTS[name][0], RESULTS[name][1], derived_from=sources)
    _write_index(workdir / "index.html", fit_summary, params, job)
    log.info("done in %.1f s", time.perf_counter() - started)
    provenance.write_all(record.finish(), workdir)
    return fit_summary


def _safe_mask_maker(observation, run: Candidate, log):
    """The safe energy range of a run: its effective area's LO_THRES/HI_THRES
    (the files' safe range, ``aeff-default``), else the range the import
    stored (obs-index), else the energies where the effective area exceeds
    10 % of its maximum."""
    from gammapy.makers import SafeMaskMaker
    meta = getattr(observation.aeff, "meta", {}) or {}
    if "LO_THRES" in meta and "HI_THRES" in meta:
        return SafeMaskMaker(methods=["aeff-default"])
    if run.safe_energy_lo is not None and run.safe_energy_hi is not None:
        return _StoredSafeRange(run.safe_energy_lo, run.safe_energy_hi)
    log.info("run %s: no safe energy range in the files, using 10 %% of the maximum"
             " effective area", run.obs_id)
    return SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)


class _StoredSafeRange:
    """A safe mask from a stored energy range (TeV)."""

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi

    def run(self, dataset, observation=None):
        import astropy.units as u
        mask = dataset.counts.geom.energy_mask(energy_min=self.lo * u.TeV,
                                               energy_max=self.hi * u.TeV)
        dataset.mask_safe = mask if dataset.mask_safe is None else (dataset.mask_safe & mask)
        return dataset


def _safe_range(dataset) -> tuple[float, float]:
    """Lowest and highest reconstructed energy (TeV) of the safe bins."""
    import numpy as np
    axis = dataset.counts.geom.axes["energy"]
    mask = np.asarray(dataset.mask_safe.data).reshape(axis.nbin, -1).any(axis=1)
    if not mask.any():
        return float("nan"), float("nan")
    edges = axis.edges.to_value("TeV")
    index = np.nonzero(mask)[0]
    return float(edges[index[0]]), float(edges[index[-1] + 1])


def _off_region_count(dataset) -> int:
    region = getattr(dataset.counts_off.geom, "region", None)
    if region is None:
        return 0
    return len(getattr(region, "regions", [region]))


def _flux_points(stacked, lo: float, hi: float):
    """Flux points in about 4 bins per decade over the safe energy range."""
    import astropy.units as u
    import numpy as np
    from gammapy.estimators import FluxPointsEstimator
    bins = max(2, int(round(4 * math.log10(hi / lo))))
    edges = np.geomspace(lo, hi, bins + 1) * u.TeV
    estimator = FluxPointsEstimator(energy_edges=edges, source="source",
                                    selection_optional=["ul"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return estimator.run(datasets=[stacked])


def _write_votable(table, path: Path, params: Parameters) -> None:
    """The flux point table as a VOTable (plain columns; job parameters and
    the table's SED metadata as PARAMs)."""
    import numpy as np
    from astropy.io.votable.tree import Field, Param, Resource, Table as VOTableTable
    from astropy.io.votable.tree import VOTableFile
    from astropy.table import Table

    plain = Table()
    for name in table.colnames:
        column = table[name]
        data = np.asarray(column)
        if data.ndim > 1:
            data = data.reshape(len(data), -1)
            if data.shape[1] == 1:
                data = data[:, 0]
            else:
                continue
        plain[name] = data
        if column.unit is not None:
            plain[name].unit = column.unit
        if column.description:
            plain[name].description = column.description
    votable = VOTableFile()
    resource = Resource()
    votable.resources.append(resource)
    vot_table = VOTableTable.from_table(votable, plain)
    vot_table.name = "flux_points"
    vot_table.description = (f"Flux points of a {MODELS[params.model]} fit at RA"
                              f" {params.ra:g}, DEC {params.dec:g} (hess_dr point_source job)")
    for key, value in table.meta.items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            vot_table.params.append(_param(votable, str(key), value))
    for key, value in params.as_dict().items():
        if value is not None:
            vot_table.params.append(_param(votable, key, value))
    resource.tables.append(vot_table)
    votable.to_xml(str(path))


def _param(votable, name, value):
    from astropy.io.votable.tree import Param
    if isinstance(value, str):
        return Param(votable, name=name, datatype="char", arraysize="*", value=value)
    if isinstance(value, int):
        return Param(votable, name=name, datatype="long", value=value)
    return Param(votable, name=name, datatype="double", value=value)


def _counts_map_png(path: Path, observations, datasets, geom, on_region, params) -> None:
    import astropy.units as u
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gammapy.maps import Map
    from gammapy.visualization import plot_spectrum_datasets_off_regions

    counts = Map.from_geom(geom)
    for _, observation in observations:
        events = observation.events.select_energy(
            [params.emin, params.emax] * u.TeV)
        counts.fill_events(events)
    figure = plt.figure(figsize=(8, 7))
    ax = figure.add_subplot(projection=geom.wcs)
    smoothed = counts.smooth(0.04 * u.deg, kernel="gauss")
    smoothed.plot(ax=ax, add_cbar=True, cmap="viridis", stretch="sqrt")
    with warnings.catch_warnings():  # regions' and gammapy's colour arguments
        warnings.simplefilter("ignore", UserWarning)
        plot_spectrum_datasets_off_regions(datasets=datasets, ax=ax,
                                           legend=len(datasets) <= 8)
        on_region.to_pixel(geom.wcs).plot(ax=ax, edgecolor="white", lw=2, label="ON")
    for run, observation in observations:
        pointing = observation.get_pointing_icrs(observation.tmid)
        ax.plot(pointing.ra.deg, pointing.dec.deg, "w+", ms=10,
                transform=ax.get_transform("icrs"))
    ax.set_title(f"Counts {params.emin:g}-{params.emax:g} TeV, {len(observations)} run(s);"
                 f" ON (white) and OFF regions, pointings (+)", fontsize=9)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _spectrum_png(path: Path, stacked, flux_points, model, params, lo, hi) -> None:
    import astropy.units as u
    import matplotlib
    import numpy as np
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(13, 5.5))
    grid = figure.add_gridspec(2, 2, height_ratios=(3, 1), hspace=0.05, wspace=0.25)
    ax_counts = figure.add_subplot(grid[0, 0])
    ax_residuals = figure.add_subplot(grid[1, 0], sharex=ax_counts)
    stacked.plot_fit(ax_spectrum=ax_counts, ax_residuals=ax_residuals)
    ax_counts.set_title("Counts (stacked ON), fitted model and background", fontsize=10)
    ax_counts.tick_params(labelbottom=False)
    ax_counts.set_ylim(bottom=0.3)
    ax_counts.set_xlabel("")
    ax_sed = figure.add_subplot(grid[:, 1])
    energy_bounds = [lo, hi] * u.TeV
    sed = dict(sed_type="e2dnde")
    model.spectral_model.plot(energy_bounds=energy_bounds, ax=ax_sed, label="fitted model",
                              **sed)
    model.spectral_model.plot_error(energy_bounds=energy_bounds, ax=ax_sed, **sed)
    flux_points.plot(ax=ax_sed, label="flux points", **sed)
    # the model's range decides the scale (an upper limit's error bar would
    # stretch it over ten decades)
    energies = np.geomspace(lo, hi, 30) * u.TeV
    curve = (energies ** 2 * model.spectral_model(energies)).to_value("erg cm-2 s-1")
    points = flux_points.e2dnde.quantity.to_value("erg cm-2 s-1").ravel()
    points = points[np.isfinite(points) & (points > 0)]
    low = min(curve.min(), points.min() if points.size else curve.min())
    high = max(curve.max(), points.max() if points.size else curve.max())
    ax_sed.set_ylim(low / 5, high * 5)
    ax_sed.set_title(f"{MODELS[params.model]} fit and flux points", fontsize=10)
    ax_sed.legend(loc="best", fontsize=9)
    figure.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(figure)


def _write_index(path: Path, fit: dict, params: Parameters, job: JobInfo) -> None:
    """A page showing the plots and linking every result (relative links:
    it is itself a result of the job)."""
    escape = html.escape
    parameters = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
                         for k, v in params.as_dict().items() if v is not None)
    values = ""
    for row in fit["parameters"]:
        error = "" if row["frozen"] else f"± {row['error']:.2g}"
        values += (f"<tr><th>{escape(row['name'])}</th><td>{row['value']:.4g}</td>"
                   f"<td>{error}</td><td>{escape(row['unit'])}</td></tr>")
    stats = fit["statistics"]
    links = "".join(f"<li><a href='{escape(name)}'>{escape(name)}</a>: {escape(text)}</li>"
                    for name, (_, text) in RESULTS.items() if name != "index.html")
    runs = ", ".join(escape(str(obs_id)) for obs_id in fit["obs_ids"])
    path.write_text(f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>point_source job {escape(job.job_id)}</title>
<style>body{{font-family:sans-serif;margin:1em 2em}} td,th{{padding:0 .6em;text-align:left}}
img{{max-width:100%;border:1px solid #ccc}}</style></head>
<body><h1>point_source job {escape(job.job_id)}</h1>
<p><a href="{escape(job.job_url)}">UWS job</a> &middot; runs used: {runs}</p>
<h2>Parameters</h2><table>{parameters}</table>
<h2>Fit: {escape(fit['model_name'])}</h2><table>{values}</table>
<p>dN/dE at 1 TeV: {fit['dnde_1tev']:.4g} ± {fit['dnde_1tev_err']:.2g} {DNDE_UNIT};
WSTAT {fit['statistic']['value']:.2f}; {stats['counts_on']} ON, {stats['counts_off']} OFF
counts, excess {stats['excess'] or 0:.1f}, significance {stats['significance'] or 0:.1f} σ,
safe energies {stats['safe_energy_range_tev'][0]:.3g}–{stats['safe_energy_range_tev'][1]:.3g} TeV.</p>
<h2>Counts map</h2><img src="counts-map.png" alt="counts map">
<h2>Spectrum</h2><img src="spectrum.png" alt="spectrum">
<h2>Provenance</h2><img src="provenance.png" alt="provenance graph">
<h2>All results</h2><ul>{links}</ul>
</body></html>
""", encoding="utf-8")
