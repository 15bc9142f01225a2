"""Operator configuration: one YAML file describing the published collections.

The file is looked up in this order (see :func:`find_config_file`):

1. the path in the environment variable ``HESS_DR_CONFIG``;
2. ``<resdir>/hess_dr.yaml`` (git-ignored, the operator's own copy);
3. ``<resdir>/res/hess_dr.default.yaml`` (shipped; serves the bundled sample).

``<resdir>`` is the resource directory (the one holding ``q.rd``), an input
of :func:`load`: the RD's code passes its ``rd.resdir``, other callers their
checkout (see :func:`resource_dir` for the fallbacks).  Nothing here depends
on where the package is installed.

Every value is validated on load; a problem raises :class:`ConfigError`
naming the file and the offending key.
"""
from __future__ import annotations

import dataclasses
import datetime
import io
import os
import re
from pathlib import Path
from typing import Any

import yaml

from hess_dr import access

ENV_VAR = "HESS_DR_CONFIG"
#: Environment variable naming the resource directory, for callers that
#: pass none (see :func:`resource_dir`).
RESDIR_ENV_VAR = "HESS_DR_RESDIR"
#: The operator's file and the shipped default, relative to the resource
#: directory.
OPERATOR_NAME = "hess_dr.yaml"
DEFAULT_NAME = "res/hess_dr.default.yaml"

#: The directory above this package.  It is the resource directory only when
#: hess_dr is used from its checkout (an editable install, or the sys.path
#: entry res/dl3grammar.py adds); with a regular install it is
#: site-packages.  Last fallback of :func:`resource_dir`.
RESDIR = Path(__file__).resolve().parent.parent

_YAML_BOOL_KEYS = {True: "ON", False: "OFF"}
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# Allowed values of the ObsCore-HEA draft (REFERENCE.md section 2).
TRACKING_MODES = ("sidereal", "fixed-az-el-transit",
                  "solar-system-object-tracking", "none")
SCAN_MODES = ("on-source", "on-off", "raster-map", "on-the-fly-cross-scan",
              "on-the-fly-cross-map", "slew")
#: Values of ``survey_region``: what s_region is for files without a pointing.
SURVEY_REGIONS = ("events", "none")
#: Values of ``altitude_unit``.
ALTITUDE_UNITS = ("m", "km")
#: An IVOA UAT term (http://www.ivoa.net/rdf/uat): the concept's label in
#: lower case, runs of other characters replaced by one '-'
#: ("Gamma-ray astronomy" -> gamma-ray-astronomy).
UAT_TERM = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
#: Longest VOResource shortName.
SHORT_NAME_MAX = 16
_URL = re.compile(r"^https?://[^\s/]+\S*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: The keys of the ``service`` block (see :class:`Config`).
SERVICE_KEYS = ("title", "short_name", "description", "publisher", "contact_name",
                "contact_email", "contact_address", "reference_url")


class ConfigError(ValueError):
    """The operator configuration is unusable; the message says where and why."""


@dataclasses.dataclass(frozen=True)
class Collection:
    """One published collection (an instrument's release) and its defaults.

    Attributes mirror the keys of a ``collections`` entry in the YAML file.
    """

    name: str
    data_dir: Path
    obs_collection: str
    title_prefix: str
    facility_name: str | None = None
    instrument_name: str | None = None
    fov_diameter_deg: float | None = None
    psf_ref_energy_tev: float = 1.0
    psf_ref_offset_deg: float = 0.5
    calib_level: int = 2
    tracking_mode: str | None = None
    messenger_name: str | None = "photon"
    messenger_pdgid: int | None = 22
    scan_modes: dict[str, str] = dataclasses.field(default_factory=dict)
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: DaCHS group owning the data (None: public), see :mod:`hess_dr.access`.
    owner: str | None = None
    #: First public day, or a proprietary period after each run's
    #: observation date (:class:`hess_dr.access.Period`); None with an
    #: owner: proprietary without end.
    release: access.Release | None = None
    #: Per-run owner/release, by obs_id (``runs`` and ``runs_file``).
    runs: dict[str, access.RunRights] = dataclasses.field(default_factory=dict)
    rights: str | None = None
    rights_url: str | None = None
    #: Header keyword holding the observation id when OBS_ID is missing.
    obs_id_keyword: str | None = None
    #: Regular expression with one group, searched in the file name, giving
    #: the observation id of files without OBS_ID (and obs_id_keyword);
    #: None: the file name without its extensions; 'none': such files are
    #: skipped.
    obs_id_from_filename: str | None = None
    #: Unit of the ALTITUDE keyword when its comment does not say ('m', 'km').
    altitude_unit: str | None = None
    #: s_region of files without a pointing: 'events' (the circle around
    #: the events' mean direction holding them all) or 'none' (NULL).
    survey_region: str = "events"
    # Curation of the collection's registry record (VOResource); None or
    # empty: see hess_dr.registry for what is used instead.
    #: Title of the record (default: "<title_prefix> event lists").
    title: str | None = None
    #: VOResource shortName, at most 16 characters (default: from name).
    short_name: str | None = None
    #: What the collection holds (default: a sentence from the other keys).
    description: str | None = None
    #: Who publishes the collection (default: the service's publisher).
    publisher: str | None = None
    #: Whom to ask about the collection (default: the service's contact).
    contact_name: str | None = None
    contact_email: str | None = None
    #: Authors of the data, "Last, F." or a collaboration (each a creator).
    creators: tuple[str, ...] = ()
    #: Web page describing the collection (default: rights_url).
    reference_url: str | None = None
    #: UAT terms (http://www.ivoa.net/rdf/uat), e.g. gamma-ray-astronomy.
    subjects: tuple[str, ...] = ()
    #: Bibliographic source of the data (a bibcode or a DOI).
    source: str | None = None

    def default(self, keyword: str) -> Any:
        """Return the configured value for a missing header keyword, or None."""
        return self.defaults.get(keyword.lower())

    def obs_id_from(self, path: str | os.PathLike) -> str | None:
        """The observation id ``obs_id_from_filename`` finds in a file name,
        or None (no pattern configured, or no match)."""
        if not self.obs_id_from_filename or self.obs_id_from_filename == "none":
            return None
        match = re.search(self.obs_id_from_filename, Path(path).name)
        if match is None or not (match.group(1) or "").strip():
            return None
        return match.group(1).strip()

    def rights_of(self, obs_id, observed: datetime.date | None
                  ) -> tuple[str | None, datetime.date | None]:
        """(owner group, first public day) of a run of this collection
        observed on ``observed`` (see :func:`hess_dr.access.run_rights`)."""
        return access.run_rights(access.RunRights(self.owner, self.release),
                                 self.runs.get(str(obs_id).strip()), observed)

    def scan_mode(self, obs_mode: str | None) -> str | None:
        """Map an OBS_MODE header value to an ObsCore-HEA scan_mode."""
        if obs_mode is None:
            return None
        return self.scan_modes.get(obs_mode.strip().upper())


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole operator configuration."""

    source: Path
    collections: tuple[Collection, ...]
    contact_name: str | None = None
    contact_email: str | None = None
    #: The site (a demo or test instance's DaCHS site metadata, and the
    #: defaults of every collection's curation): its name, short name (at
    #: most 13 characters: DaCHS appends " RG" for its registry), what it
    #: is, who runs it, its postal address and web page.
    title: str | None = None
    short_name: str | None = None
    description: str | None = None
    publisher: str | None = None
    contact_address: str | None = None
    reference_url: str | None = None

    def collection_for(self, path: str | os.PathLike) -> Collection | None:
        """Return the collection whose data_dir contains ``path``.

        With nested data directories, the innermost one wins.
        """
        path = Path(os.path.abspath(path))
        best = None
        for coll in self.collections:
            if path.is_relative_to(coll.data_dir):
                if best is None or len(coll.data_dir.parts) > len(best.data_dir.parts):
                    best = coll
        return best

    @property
    def rights(self) -> str:
        """Rights text of the whole service: every collection's, concatenated."""
        parts = [f"{c.obs_collection}:\n{c.rights.strip()}"
                 for c in self.collections if c.rights]
        return "\n\n".join(parts) or "See the individual collections."


def resource_dir(resdir: str | os.PathLike | None = None,
                 environ: dict | None = None) -> Path:
    """Return the resource directory (the one holding q.rd and res/).

    Parameters
    ----------
    resdir : path-like, optional
        The resource directory; when given, it is the answer.  DaCHS code
        passes the RD's ``rd.resdir``.
    environ : mapping, optional
        The environment (default :data:`os.environ`): without ``resdir``,
        ``$HESS_DR_RESDIR`` names it; else the directory above the package
        (:data:`RESDIR`) when it is a resource directory, as in a checkout.

    Raises
    ------
    ConfigError
        If no resource directory is given and the package does not sit in
        one (a regular install).
    """
    if resdir is not None:
        return Path(resdir)
    environ = os.environ if environ is None else environ
    if environ.get(RESDIR_ENV_VAR):
        return Path(environ[RESDIR_ENV_VAR])
    if (RESDIR / DEFAULT_NAME).is_file():
        return RESDIR
    raise ConfigError(f"no resource directory: pass the RD's resdir or set"
                      f" ${RESDIR_ENV_VAR} (hess_dr is installed in {RESDIR.parent},"
                      f" not in a resource directory)")


def default_file(resdir: str | os.PathLike) -> Path:
    """The shipped default configuration of the resource directory ``resdir``."""
    return Path(resdir) / DEFAULT_NAME


def operator_file(resdir: str | os.PathLike) -> Path:
    """The operator's configuration file in the resource directory ``resdir``."""
    return Path(resdir) / OPERATOR_NAME


def find_config_file(environ: dict | None = None,
                     resdir: str | os.PathLike | None = None) -> Path:
    """Return the configuration file in effect (see the module docstring).

    ``$HESS_DR_CONFIG`` when set, else the operator's file of the resource
    directory (:func:`resource_dir` of ``resdir``) when it exists, else the
    shipped default there."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR])
    resdir = resource_dir(resdir, environ)
    if operator_file(resdir).exists():
        return operator_file(resdir)
    return default_file(resdir)


def load(path: str | os.PathLike | None = None,
         resdir: str | os.PathLike | None = None) -> Config:
    """Read and validate the operator configuration.

    Parameters
    ----------
    path : path-like, optional
        The YAML file; default: :func:`find_config_file` (``$HESS_DR_CONFIG``,
        else the operator's file or the shipped default of ``resdir``).
    resdir : path-like, optional
        The resource directory (the RD's ``rd.resdir``, or a checkout);
        default: see :func:`resource_dir`.  Not needed when ``path`` or
        ``$HESS_DR_CONFIG`` is given.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        If the file cannot be read or any value is invalid.
    """
    path = Path(path) if path is not None else find_config_file(resdir=resdir)
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse(doc, path)


def parse(doc: Any, source: Path) -> Config:
    """Validate a parsed YAML document; ``source`` is used in messages and
    to resolve relative data directories."""
    where = _Where(source)
    if not isinstance(doc, dict):
        raise where.error("top level", "must be a mapping with a 'collections' list")
    _reject_unknown(doc, {"service", "collections"}, where, "top level")
    service = doc.get("service") or {}
    if not isinstance(service, dict):
        raise where.error("service", "must be a mapping")
    _reject_unknown(service, set(SERVICE_KEYS), where, "service")
    site = {key: _opt_str(service, key, where, "service") for key in SERVICE_KEYS}
    _check_curation(site, where, "service", short_name_max=SHORT_NAME_MAX - 3)

    raw_collections = doc.get("collections")
    if not isinstance(raw_collections, list) or not raw_collections:
        raise where.error("collections", "must be a non-empty list")
    # Relative data_dir: relative to the file naming it, except for the
    # shipped default, which lives in <resdir>/res/ but describes the
    # resdir's data/ (told by the file's place, wherever the resdir is).
    base_dir = shipped_default_resdir(source) or source.resolve().parent
    collections = tuple(_parse_collection(raw, i, where, base_dir)
                        for i, raw in enumerate(raw_collections))

    names = [c.name for c in collections]
    for name in set(names):
        if names.count(name) > 1:
            raise where.error("collections", f"collection name {name!r} is used twice")
    short_names = [c.short_name for c in collections if c.short_name]
    for short_name in set(short_names):
        if short_names.count(short_name) > 1:
            raise where.error("collections",
                              f"short_name {short_name!r} is used twice")
    return Config(source=source, collections=collections, **site)


def shipped_default_resdir(source: str | os.PathLike) -> Path | None:
    """The resource directory whose shipped default ``source`` is (the file
    is ``<resdir>/res/hess_dr.default.yaml``), or None for any other file."""
    source = Path(source).resolve()
    resdir = source.parent.parent
    return resdir if default_file(resdir) == source else None


class _Where:
    """Builds error messages that name the file and the key."""

    def __init__(self, source: Path):
        self.source = source

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {problem}")


#: ``embargo`` is the older name of a fixed ``release`` date.
_COLLECTION_KEYS = {f.name for f in dataclasses.fields(Collection)} | {"embargo", "runs_file"}


def _parse_collection(raw: Any, index: int, where: _Where, base_dir: Path) -> Collection:
    ctx = f"collections[{index}]"
    if not isinstance(raw, dict):
        raise where.error(ctx, "must be a mapping")
    _reject_unknown(raw, _COLLECTION_KEYS, where, ctx)

    name = _req_str(raw, "name", where, ctx)
    if not _NAME_PATTERN.match(name):
        raise where.error(f"{ctx}.name", f"{name!r}: use letters, digits, '-' and '_' only")
    ctx = f"collections[{name}]"

    data_dir = Path(_req_str(raw, "data_dir", where, ctx)).expanduser()
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir
    data_dir = Path(os.path.abspath(data_dir))
    if not data_dir.is_dir():
        raise where.error(f"{ctx}.data_dir", f"{data_dir} is not a directory")

    values: dict[str, Any] = {
        "name": name,
        "data_dir": data_dir,
        "obs_collection": _req_str(raw, "obs_collection", where, ctx),
        "title_prefix": _opt_str(raw, "title_prefix", where, ctx) or raw["obs_collection"],
    }
    for key in ("facility_name", "instrument_name", "tracking_mode", "messenger_name",
                "owner", "rights", "rights_url", "obs_id_keyword", "obs_id_from_filename",
                "altitude_unit"):
        values[key] = _opt_str(raw, key, where, ctx)
    if values["obs_id_keyword"]:
        values["obs_id_keyword"] = values["obs_id_keyword"].upper()
    if values["obs_id_from_filename"] and values["obs_id_from_filename"] != "none":
        try:
            groups = re.compile(values["obs_id_from_filename"]).groups
        except re.error as exc:
            raise where.error(f"{ctx}.obs_id_from_filename",
                              f"not a valid regular expression: {exc}") from None
        if groups != 1:
            raise where.error(f"{ctx}.obs_id_from_filename",
                              f"must have exactly one group (...), has {groups}")
    if values["altitude_unit"] and values["altitude_unit"] not in ALTITUDE_UNITS:
        raise where.error(f"{ctx}.altitude_unit",
                          f"{values['altitude_unit']!r} is not one of {', '.join(ALTITUDE_UNITS)}")
    survey_region = _opt_str(raw, "survey_region", where, ctx)
    if survey_region is not None:
        if survey_region not in SURVEY_REGIONS:
            raise where.error(f"{ctx}.survey_region",
                              f"{survey_region!r} is not one of {', '.join(SURVEY_REGIONS)}")
        values["survey_region"] = survey_region
    if values["messenger_name"] is None:  # absent: keep the dataclass default, like messenger_pdgid
        del values["messenger_name"]
    for key in ("fov_diameter_deg", "psf_ref_energy_tev", "psf_ref_offset_deg"):
        if raw.get(key) is not None:
            values[key] = _positive_float(raw, key, where, ctx)
    for key in ("calib_level", "messenger_pdgid"):
        if raw.get(key) is not None:
            if isinstance(raw[key], bool) or not isinstance(raw[key], int):
                raise where.error(f"{ctx}.{key}", f"{raw[key]!r} is not an integer")
            values[key] = raw[key]
    if values.get("calib_level", 2) not in (0, 1, 2, 3, 4):
        raise where.error(f"{ctx}.calib_level", "must be 0..4 (ObsCore)")
    if values["tracking_mode"] and values["tracking_mode"] not in TRACKING_MODES:
        raise where.error(f"{ctx}.tracking_mode",
                          f"{values['tracking_mode']!r} is not one of {', '.join(TRACKING_MODES)}")

    scan_modes = raw.get("scan_modes") or {}
    if not isinstance(scan_modes, dict):
        raise where.error(f"{ctx}.scan_modes", "must be a mapping OBS_MODE: scan_mode")
    for obs_mode, scan_mode in scan_modes.items():
        if scan_mode not in SCAN_MODES:
            raise where.error(f"{ctx}.scan_modes.{obs_mode}",
                              f"{scan_mode!r} is not one of {', '.join(SCAN_MODES)}")
    # YAML 1.1 (PyYAML) reads the unquoted OBS_MODE keys ON and OFF as booleans.
    values["scan_modes"] = {(_YAML_BOOL_KEYS[k] if isinstance(k, bool) else str(k).strip().upper()): v
                            for k, v in scan_modes.items()}

    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise where.error(f"{ctx}.defaults", "must be a mapping KEYWORD: value")
    values["defaults"] = {str(k).lower(): v for k, v in defaults.items()}

    values["release"] = _release(raw, where, ctx)
    values["runs"] = _run_overrides(raw, where, ctx, base_dir)
    if values["owner"] is None:
        if values["release"] is not None:
            key = "release" if raw.get("release") is not None else "embargo"
            raise where.error(f"{ctx}.{key}", "a release rule needs an owner group")
        for obs_id, rights in values["runs"].items():
            if rights.release is not None and rights.owner is None:
                raise where.error(f"{ctx}.runs[{obs_id}].release",
                                  "a release rule needs an owner group (here or in the collection)")

    for key in ("title", "short_name", "description", "publisher", "contact_name",
                "contact_email", "reference_url", "source"):
        values[key] = _opt_str(raw, key, where, ctx)
    _check_curation(values, where, ctx, short_name_max=SHORT_NAME_MAX)
    if values["rights_url"] and not _URL.match(values["rights_url"]):
        raise where.error(f"{ctx}.rights_url",
                          f"{values['rights_url']!r} is not an http(s) URL")
    values["creators"] = _str_list(raw, "creators", where, ctx)
    for creator in values["creators"]:
        if ";" in creator:
            raise where.error(f"{ctx}.creators",
                              f"{creator!r}: one name per entry, without ';'")
    values["subjects"] = _str_list(raw, "subjects", where, ctx)
    for subject in values["subjects"]:
        if not UAT_TERM.match(subject):
            raise where.error(f"{ctx}.subjects",
                              f"{subject!r} is not a UAT term (lower case words joined"
                              " by '-', e.g. gamma-ray-astronomy; see"
                              " http://www.ivoa.net/rdf/uat)")
    return Collection(**values)


def _release(raw: dict, where: _Where, ctx: str) -> access.Release | None:
    """The collection's release rule: ``release`` (a date or a period), or
    its older name ``embargo`` (a date)."""
    if raw.get("release") is not None and raw.get("embargo") is not None:
        raise where.error(f"{ctx}.embargo", "give release or embargo (its older name), not both")
    key = "release" if raw.get("release") is not None else "embargo"
    value = raw.get(key)
    if value is None:
        return None
    try:
        release = access.parse_release(value)
    except ValueError as exc:
        raise where.error(f"{ctx}.{key}", str(exc)) from None
    if key == "embargo" and isinstance(release, access.Period):
        raise where.error(f"{ctx}.embargo", f"{value!r} is not an ISO date"
                          " (a proprietary period goes into release)")
    return release


#: Keys of a per-run entry (``runs`` and ``runs_file``).
_RUN_KEYS = {"owner", "release"}


def _run_overrides(raw: dict, where: _Where, ctx: str, base_dir: Path
                   ) -> dict[str, access.RunRights]:
    """Per-run owner/release: the ``runs`` mapping ``obs_id: {owner,
    release}`` and the file ``runs_file`` (YAML of the same shape, or CSV
    with the columns obs_id, owner, release); ``runs`` wins."""
    runs: dict[str, access.RunRights] = {}
    path = _opt_str(raw, "runs_file", where, ctx)
    if path:
        path = Path(path).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        file_where = _Where(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise where.error(f"{ctx}.runs_file", f"cannot read {path}: {exc.strerror}") from None
        if path.suffix.lower() == ".csv":
            entries = _csv_runs(text, file_where)
        else:
            try:
                entries = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise file_where.error("runs", f"not valid YAML: {exc}") from None
        runs.update(_parse_runs(entries, file_where, "runs"))
    runs.update(_parse_runs(raw.get("runs") or {}, where, f"{ctx}.runs"))
    return runs


def _csv_runs(text: str, where: _Where) -> dict:
    import csv
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "obs_id" not in reader.fieldnames:
        raise where.error("line 1", "a CSV runs file needs a header with obs_id and"
                                    " owner and/or release")
    unknown = set(reader.fieldnames) - _RUN_KEYS - {"obs_id"}
    if unknown:
        raise where.error("line 1", f"unknown column(s) {', '.join(sorted(unknown))};"
                                    " allowed: obs_id, owner, release")
    entries = {}
    for line, record in enumerate(reader, start=2):
        obs_id = (record.pop("obs_id") or "").strip()
        if not obs_id:
            raise where.error(f"line {line}", "obs_id is empty")
        entries[obs_id] = {key: value.strip() for key, value in record.items()
                           if value and value.strip()}
    return entries


def _parse_runs(entries, where: _Where, ctx: str) -> dict[str, access.RunRights]:
    if not isinstance(entries, dict):
        raise where.error(ctx, "must be a mapping obs_id: {owner: ..., release: ...}")
    runs = {}
    for obs_id, entry in entries.items():
        key = f"{ctx}[{obs_id}]"
        if not isinstance(entry, dict) or not entry:
            raise where.error(key, "must be a mapping with owner and/or release")
        _reject_unknown(entry, _RUN_KEYS, where, key)
        release = None
        if entry.get("release") is not None:
            try:
                release = access.parse_release(entry["release"])
            except ValueError as exc:
                raise where.error(f"{key}.release", str(exc)) from None
        owner = _opt_str(entry, "owner", where, key) or None
        if owner is not None and not _NAME_PATTERN.match(owner):
            raise where.error(f"{key}.owner", f"{owner!r} is not a DaCHS group name")
        runs[str(obs_id).strip()] = access.RunRights(owner=owner, release=release)
    return runs


def _check_curation(values: dict, where: "_Where", ctx: str, short_name_max: int) -> None:
    """Check the curation keys present in ``values`` (plain strings)."""
    short_name = values.get("short_name")
    if short_name and len(short_name) > short_name_max:
        raise where.error(f"{ctx}.short_name",
                          f"{short_name!r} is longer than {short_name_max} characters")
    email = values.get("contact_email")
    if email and not _EMAIL.match(email):
        raise where.error(f"{ctx}.contact_email", f"{email!r} is not an e-mail address")
    url = values.get("reference_url")
    if url and not _URL.match(url):
        raise where.error(f"{ctx}.reference_url", f"{url!r} is not an http(s) URL")


def _str_list(mapping: dict, key: str, where: "_Where", ctx: str) -> tuple[str, ...]:
    """A list of non-empty strings (a single string counts as a list of one)."""
    value = mapping.get(key)
    if value is None:
        return ()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise where.error(f"{ctx}.{key}", "must be a list of names")
    items = []
    for item in value:
        if isinstance(item, (dict, list)) or item is None or not str(item).strip():
            raise where.error(f"{ctx}.{key}", f"{item!r} is not a non-empty name")
        items.append(" ".join(str(item).split()))
    return tuple(items)


def _reject_unknown(mapping: dict, allowed: set, where: _Where, ctx: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise where.error(ctx, f"unknown key(s) {', '.join(map(str, unknown))}; "
                               f"allowed: {', '.join(sorted(allowed))}")


def _req_str(mapping: dict, key: str, where: _Where, ctx: str) -> str:
    value = _opt_str(mapping, key, where, ctx)
    if not value:
        raise where.error(f"{ctx}.{key}", "is required")
    return value


def _opt_str(mapping: dict, key: str, where: _Where, ctx: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise where.error(f"{ctx}.{key}", "must be a plain value, not a list or mapping")
    return str(value).strip()


def _positive_float(mapping: dict, key: str, where: _Where, ctx: str) -> float:
    value = mapping[key]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise where.error(f"{ctx}.{key}", f"{value!r} is not a number") from None
    if not number > 0 or number == float("inf"):
        raise where.error(f"{ctx}.{key}", f"{value!r} must be a positive number")
    return number
