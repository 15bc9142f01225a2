"""DaCHS side of hess_dr's DataLink, SODA and derived-product services.

q.rd's services run hess_dr's own DataLink core (res/dlcore.py), whose
procedures call the functions here; the work itself is done by the pure
modules of the hess_dr package (links, soda, cutout, products, preview).
Nothing here changes DaCHS: the DataLink 1.1 row class, the descriptor and
the request checks are hess_dr's own and used by hess_dr's services only.
"""
import collections
import os
import sys
import threading
import traceback
import types

_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _RESDIR not in sys.path:
    sys.path.insert(0, _RESDIR)

from gavo import base, rscdef, svcs  # noqa: E402
from gavo.protocols import datalink, products  # noqa: E402

from hess_dr import access as hess_access  # noqa: E402
from hess_dr import config as hess_config  # noqa: E402
from hess_dr import links as hess_links  # noqa: E402
from hess_dr import soda as hess_soda  # noqa: E402


# ------------------------------------------------------- DataLink 1.1 rows

class QualifiedLinkDef(datalink.LinkDef):
    """A DaCHS LinkDef with the DataLink 1.1 ``content_qualifier``.

    Its rows go into hess_dr's own response table (q.rd ``dlresponse``),
    never into DaCHS's ``//datalink#dlresponse``.
    """

    def __init__(self, pubDID, accessURL, contentQualifier=None, **kwargs):  # noqa: N803
        super().__init__(pubDID, accessURL, **kwargs)
        self.content_qualifier = contentQualifier

    def asDict(self):
        row = super().asDict()
        row["content_qualifier"] = self.content_qualifier
        return row


def response_row(link) -> dict:
    """A row of hess_dr's DataLink response table from a LinkDef or a fault."""
    row = link.asDict()
    row.setdefault("content_qualifier", None)
    return row


# ---------------------------------------------------------------- descriptors

class EventListDescriptor(datalink.ProductDescriptor):
    """A product descriptor that also carries the dataset's obs_index row."""

    suppressAutoLinks = True  # #this is made by hess_dr.links, with its qualifier
    obs = None

    def makeLink(self, url, **kwargs):  # noqa: N802 (DaCHS's name)
        kwargs.setdefault("semantics", self.forSemantics)
        return QualifiedLinkDef(self.pubDID, url, **kwargs)


#: The dc.products columns a descriptor needs -> ProductDescriptor's names.
_PRODUCT_COLUMNS = {"accesspath": "accessPath", "mime": "mime", "owner": "owner",
                    "embargo": "embargo", "sourcetable": "sourceTable",
                    "preview": "preview", "preview_mime": "preview_mime"}


def _dataset_row(pub_did):
    """The dataset's obs_index row and its dc.products row, in one query on
    hess_dr's own connections, or None."""
    products_columns = ", ".join(f"p.{name} AS product_{name}" for name in _PRODUCT_COLUMNS)
    rows = connections.query_dicts(
        f"SELECT i.*, {products_columns} FROM hess_dr.obs_index AS i"
        " JOIN dc.products AS p ON p.accref = i.accref"
        " WHERE i.obs_publisher_did = %(did)s", {"did": pub_did})
    return rows[0] if rows else None


def make_descriptor(pub_did, accref_prefix="hess_dr/"):
    """Descriptor generator: the EventListDescriptor of a pubDID, or a fault."""
    if "\x00" in pub_did:  # PostgreSQL refuses NUL in text; no dataset has one
        return datalink.DatalinkFault.NotFoundFault(
            pub_did[:40], "Not a publisher DID of this service")
    try:
        accref = rscdef.getAccrefFromStandardPubDID(pub_did)
    except ValueError:
        return datalink.DatalinkFault.NotFoundFault(
            pub_did, "Not a publisher DID of this service")
    if not accref.startswith(accref_prefix):  # DaCHS would say 403 Forbidden
        return datalink.DatalinkFault.NotFoundFault(
            pub_did, "Not a dataset of this service")
    row = _dataset_row(pub_did)
    if row is None:
        return datalink.DatalinkFault.NotFoundFault(
            pub_did, "No event list with this publisher DID")
    product = {argument: row.pop(f"product_{column}")
               for column, argument in _PRODUCT_COLUMNS.items()}
    descriptor = EventListDescriptor(pub_did, accref, **product)
    descriptor.obs = row
    # Metadata stay public: every requester gets a descriptor; what the
    # current one may not read is refused by refusal() and iter_links().
    release = hess_access.stored_release(row["obs_release_date"])
    descriptor.proprietary = not hess_access.is_public(row["owner"], release)
    descriptor.denial = (hess_access.denial(row["owner"], release, requester())
                         if descriptor.proprietary else None)
    return descriptor


def is_proprietary(descriptor):
    """Whether a dataset's data are not public today (its responses must
    not be kept by shared caches)."""
    return getattr(descriptor, "proprietary", False)


def refusal(descriptor, args):
    """The AccessDenied answering a dlget request for a dataset, or None:
    cutouts and every product but the public ones (GTIs, terms,
    provenance) follow the run's access rights."""
    denial = getattr(descriptor, "denial", None)
    if denial is None:
        return None
    product = args.get("PRODUCT")
    if product and product in hess_links.PUBLIC_PRODUCTS:
        return None
    return denial


# ------------------------------------------------------------ requesters

_REQUEST = threading.local()


def begin_request(query_meta, renderer_name):
    """Remember the current request's credentials for requester() (its
    descriptors are made in this thread, from within the core)."""
    _REQUEST.query_meta = query_meta
    _REQUEST.renderer = renderer_name
    _REQUEST.requester = None


def end_request():
    _REQUEST.query_meta = _REQUEST.requester = _REQUEST.renderer = None


def requester():
    """The current request's hess_dr.access.Requester: DaCHS's users and
    groups (HTTP basic authentication), checked once per request and only
    when a proprietary dataset is asked for."""
    cached = getattr(_REQUEST, "requester", None)
    if cached is None:
        query_meta = getattr(_REQUEST, "query_meta", None) or {}
        cached = authenticate(query_meta.get("user"), query_meta.get("password"))
        _REQUEST.requester = cached
    return cached


def authenticate(user, password):
    """A Requester for a user name and password (anonymous when they do not
    match: DaCHS puts every user into a group of its own name, so a valid
    login has at least one group)."""
    if not user:
        return hess_access.Requester.anonymous()
    from gavo.protocols import creds
    groups = creds.getGroupsForUser(user, password or "")
    if not groups:
        return hess_access.Requester.anonymous()
    return hess_access.Requester(user=str(user), groups=groups)


def collection_of(descriptor):
    """The configured collection of a descriptor's dataset (or None)."""
    return next((c for c in configuration().collections
                 if c.name == descriptor.obs["collection"]), None)


def _irfs_in_event_file(descriptor):
    """GADF types of the IRFs that are HDUs of the dataset's own file (from
    the layout the import stored)."""
    from hess_dr.layout import Layout
    if not descriptor.obs.get("layout"):
        return frozenset()
    path = os.path.abspath(_local_path(descriptor))
    try:
        layout = Layout.from_json(descriptor.obs["layout"], path)
    except ValueError:  # stored by another version: the products serve it
        return frozenset()
    return frozenset(ref.hdu_type for ref in layout.irfs
                     if os.path.abspath(ref.path) == path)


def iter_links(descriptor, service):
    """Yield the LinkDefs of a dataset (metaMaker body); for a requester who
    may not read the data, error rows in place of the data links."""
    collection = collection_of(descriptor)
    denial = getattr(descriptor, "denial", None)
    if denial is not None:
        yield _fault_row(descriptor, denial, "#cutout",
                         "Server-side cutouts of the event list (SODA)")
    for link in hess_links.dataset_links(
            descriptor.pubDID,
            file_url=products.makeProductLink(descriptor.accref),
            file_size=descriptor.estimateSize(),
            file_type=descriptor.mime or hess_links.GADF_MIME,
            irf_types=descriptor.obs["irf_types"],
            prod_url=service.rd.getById("prod").getURL("dlget"),
            rights_url=collection.rights_url if collection else None,
            irfs_in_file=_irfs_in_event_file(descriptor)):
        if denial is not None and link.semantics in hess_links.DATA_SEMANTICS:
            yield _fault_row(descriptor, denial, link.semantics, link.description)
            continue
        yield descriptor.makeLink(
            link.access_url, semantics=link.semantics, contentType=link.content_type,
            description=link.description, contentLength=link.content_length,
            contentQualifier=link.content_qualifier)


def _fault_row(descriptor, denial, semantics, description):
    """A DataLink error row saying why a data link is withheld."""
    make = getattr(datalink.DatalinkFault, denial.fault)
    return make(descriptor.pubDID, str(denial), semantics=semantics, description=description)


# ------------------------------------------------------------ request checks

def check_cutout_request(raw):
    """Validate a cutout request's raw text before DaCHS parses it.

    hess_dr.soda's parser is the one judge of SODA parameters: it refuses
    NaN, out-of-range and repeated values, and bounds value lengths and
    polygon vertices, so no geometry is built from a value it refuses.
    """
    hess_soda.parse_cutout(raw)


def check_product_request(raw):
    """Refuse an unknown PRODUCT before DaCHS parses it (DaCHS's own message
    would quote the whole value)."""
    from hess_dr import request as hess_request
    for value in raw.get("PRODUCT", []):
        if value and value not in hess_links.PRODUCTS:
            raise hess_soda.SodaError(
                f"{hess_request.excerpt(value)} is not one of"
                f" {', '.join(hess_links.PRODUCTS)}", "PRODUCT")
        if value:
            # RESPONSEFORMAT may only name what the product is
            media_type = hess_links.PRODUCTS[value]
            hess_request.check_dali_parameters(raw, {
                media_type, media_type.split(";")[0],
                hess_links.extension_for(media_type).lstrip(".")})


def file_name(descriptor, args, media_type):
    """File name of a dlget product of a dataset, with the right extension."""
    if descriptor is None or getattr(descriptor, "accessPath", None) is None:
        return None
    stem = os.path.basename(descriptor.accessPath)
    for extension in (".fits.gz", ".fits.bz2", ".fits", ".gz", ".bz2"):
        if stem.endswith(extension):
            stem = stem[:-len(extension)]
            break
    product = args.get("PRODUCT")
    if product:
        stem = f"{stem}_{product}"
    elif any(args.get(name) for name in hess_soda.CUTOUT_PARAMETERS):
        stem = f"{stem}_cutout"
    return stem + hess_links.extension_for(media_type)


def internal_error(exc):
    """Log an unexpected exception and turn it into a DALI error reply
    (ServiceFault, HTTP 500): a client gets a VOTable, never a traceback."""
    base.ui.notifyError("hess_dr: " + "".join(traceback.format_exception(exc)))
    error = base.ValidationError(f"ServiceFault: {type(exc).__name__}: {exc}", "ID")
    error.responseCode = 500
    return error


def usage_error(message, parameter="ID"):
    """A ValidationError answered as a DALI error with HTTP 400."""
    error = base.ValidationError(f"UsageError: {message}", parameter)
    error.responseCode = 400
    return error


# ---------------------------------------------------------- derived products

def _local_path(descriptor):
    return os.path.join(base.getConfig("inputsDir"), descriptor.accessPath)


def _read_run(descriptor):
    """The run of a descriptor as the import stored it (obs_index row,
    GTIs, layout; :mod:`hess_dr.stored`), or the file read again when it
    changed since the import."""
    job = _job(descriptor)
    return hess_stored.record_for(job.row, job.path, job.gti_start, job.gti_stop,
                                  job.collection)


def product_parameter():
    """The PRODUCT input key of the prod service."""
    return base.makeStruct(
        svcs.InputKey, name="PRODUCT", type="text", required=True,
        ucd="meta.code.class", multiplicity="forced-single",
        description="Which derived product: " + ", ".join(hess_links.PRODUCTS),
        values=base.makeStruct(rscdef.Values, options=[
            base.makeStruct(rscdef.Option, content_=name) for name in hess_links.PRODUCTS]))


def _preview_cache_dir():
    return hess_serve.previews_dir(_cache_root())


def derived_product(descriptor, args):
    """Data function of the prod service: (media type, bytes).

    The GTI table and the terms of use are made here; files (single IRFs,
    bundles) and uncached previews in the heavy-work pool
    (:mod:`hess_dr.heavy`), which answers 503 when it is full.
    """
    product = args.get("PRODUCT")
    if product == "provenance":  # issue 17: see publication_provenance below
        return publication_provenance(descriptor)
    if product not in hess_links.PRODUCTS:
        raise usage_error(f"PRODUCT must be one of {', '.join(hess_links.PRODUCTS)}", "PRODUCT")
    media_type = hess_links.PRODUCTS[product]
    try:
        if product == "terms":
            collection = collection_of(descriptor)
            return media_type, ((collection and collection.rights) or "").encode("utf-8")
        if product == "gti":
            from hess_dr import tables
            return media_type, tables.gti_votable(_read_run(descriptor))
        if product in ("preview-image", "preview-plot"):
            cached = _cached_preview(descriptor, product)
            if cached is not None:
                return media_type, cached
            job = _job(descriptor)
            return media_type, _heavy(hess_serve.preview_job, job, product,
                                      key=("preview", job.path, product), kind="previews")
        job = _job(descriptor)
        if product == "bundle":
            return media_type, _heavy(hess_serve.bundle_job, job)
        if product not in (descriptor.obs.get("irf_types") or "").split():
            raise usage_error(f"observation {descriptor.obs['obs_id']} has no {product} IRF",
                              "PRODUCT")
        return media_type, _heavy(hess_serve.irf_job, job, product)
    except (base.ValidationError, hess_errors.ServiceBusy):
        raise
    except hess_products.MissingIRFError as exc:
        raise usage_error(str(exc), "PRODUCT") from None
    except Exception as exc:
        raise internal_error(exc) from exc


# --------------------------------------------------------------- SODA cutout

#: A stand-in descriptor for :func:`soda_parameters` without a dataset (the
#: SODA descriptors of TAP results): no bounds.
UNBOUNDED = types.SimpleNamespace(obs=collections.defaultdict(lambda: None))


def soda_parameters(descriptor):
    """The SODA input keys of the dl service, with the dataset's bounds
    (in a links response, none for a requester who may not read the
    data: iter_links gives an error row instead of the service descriptor;
    a dlget request parses them and is then refused)."""
    if getattr(descriptor, "denial", None) is not None \
            and getattr(_REQUEST, "renderer", None) == "dlmeta":
        return
    obs = descriptor.obs
    MS = base.makeStruct

    def interval(name, unit, ucd, description, low=None, high=None):
        # MIN and MAX bound each of the interval's two numbers: written as
        # pairs, as the parameter's arraysize says (a single number makes
        # astropy < 6 warn E02 on every parse)
        values = (MS(rscdef.Values, min=f"{low!r} {low!r}", max=f"{high!r} {high!r}")
                  if low is not None else None)
        return MS(svcs.InputKey, name=name, type="double precision[2]", xtype="interval",
                  unit=unit, ucd=ucd, multiplicity="forced-single",
                  description=description, values=values)

    yield interval("BAND", "m", "em.wl",
                   "Wavelength interval of the events to keep (SODA; E = hc/lambda)",
                   obs["em_min"], obs["em_max"])
    tev = 1e-12
    yield interval("ENERGY", "TeV", "em.energy",
                   "Energy interval of the events to keep, in TeV (convenience for BAND)",
                   obs["energy_min"] * tev if obs["energy_min"] else None,
                   obs["energy_max"] * tev if obs["energy_max"] else None)
    yield interval("TIME", "d", "time.interval;obs.exposure",
                   "Time interval (MJD UTC) of the events and GTIs to keep",
                   obs["t_min"], obs["t_max"])
    yield MS(svcs.InputKey, name="CIRCLE", type="double precision(3)", xtype="circle",
             unit="deg", ucd="phys.angArea;obs", multiplicity="forced-single",
             description="Keep events in this circle (ICRS ra, dec, radius)")
    yield MS(svcs.InputKey, name="POLYGON", type="double precision(*)", xtype="polygon",
             unit="deg", ucd="phys.angArea;obs", multiplicity="forced-single",
             description="Keep events in this polygon (ICRS ra, dec pairs)")
    yield MS(svcs.InputKey, name="POS", type="text", ucd="phys.angArea;obs",
             multiplicity="forced-single",
             description="Keep events in this region: CIRCLE ra dec r,"
                         " RANGE ra1 ra2 dec1 dec2, or POLYGON ra1 dec1 ...")


def _as_text(value):
    """DaCHS's parsed parameter back to its SODA text form, so hess_dr.soda
    validates every parameter the same way."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if hasattr(value, "asSODA"):  # xtype circle/polygon arrive as pgsphere objects
        return value.asSODA()
    # DaCHS parses a NaN literal to None
    return " ".join("NaN" if item is None else repr(float(item)) for item in value)


def soda_cutout(descriptor, args):
    """Data function of the dl service: (media type, bytes) of the cutout,
    made in the heavy-work pool from what the import stored."""
    try:
        raw = {name: _as_text(args.get(name)) for name in hess_soda.CUTOUT_PARAMETERS}
        spec = hess_soda.parse_cutout({name: value for name, value in raw.items()
                                       if value is not None})
    except hess_soda.SodaError as exc:
        raise usage_error(str(exc), exc.parameter or "ID") from None
    except Exception as exc:
        raise internal_error(exc) from exc
    try:
        return hess_links.GADF_MIME, _heavy(hess_serve.cutout_job, _job(descriptor), spec)
    except hess_cutout.CutoutError as exc:
        if exc.http_status < 500:
            raise usage_error(str(exc)) from None
        raise internal_error(exc) from exc
    except (base.ValidationError, hess_errors.ServiceBusy):
        raise
    except Exception as exc:
        raise internal_error(exc) from exc


# ------------------------------------------- serving from the stored record
# (imported once here: an import statement in a request handler takes
# Python's import lock on every request)
from hess_dr import cutout as hess_cutout  # noqa: E402
from hess_dr import errors as hess_errors  # noqa: E402
from hess_dr import heavy as hess_heavy  # noqa: E402
from hess_dr import layout as hess_layout  # noqa: E402
from hess_dr import products as hess_products  # noqa: E402
from hess_dr import serve as hess_serve  # noqa: E402
from hess_dr import stored as hess_stored  # noqa: E402

_CONFIGURATION = {}


def configuration():
    """The operator configuration, parsed again only when its file changed
    (parsing the YAML costs milliseconds a request)."""
    path = hess_config.find_config_file(resdir=_RESDIR)
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    cached = _CONFIGURATION.get(str(path))
    if cached is None or cached[0] != stamp:
        cached = (stamp, hess_config.load(path))
        _CONFIGURATION.clear()
        _CONFIGURATION[str(path)] = cached
    return cached[1]


def _cache_root():
    """hess_dr's cache directory (events, previews) below DaCHS's cacheDir."""
    return os.path.join(base.getConfig("cacheDir"), "hess_dr")


def _stored_layout(descriptor):
    """The layout the import stored for a dataset, or None."""
    try:
        return hess_layout.Layout.from_json(descriptor.obs.get("layout"),
                                            _local_path(descriptor))
    except (ValueError, TypeError, KeyError):
        return None


class _Connections:
    """hess_dr's own read-only database connections, kept open.

    DaCHS 2.7's pool keeps two idle connections per profile and closes the
    others when they come back, so under concurrent requests nearly every
    query waits for a new PostgreSQL session to be made -- inside the
    pool's lock, one at a time.  hess_dr's queries use connections of its
    own (same profile, at most as many as requests ran at once), which
    leaves DaCHS's pool as it is for everything else.
    """

    def __init__(self, profile="trustedquery"):
        import queue
        self.profile = profile
        self.idle = queue.SimpleQueue()

    def _connect(self):
        from gavo.base import sqlsupport
        conn = sqlsupport.getDBConnection(self.profile)
        conn.set_session(autocommit=True, readonly=True)
        return conn

    def _execute(self, sql, params, fetch):
        import queue
        try:
            conn = self.idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                rows = fetch(cursor)
        except Exception:
            conn.close()  # broken (a restart?) or in error: never reused
            raise
        self.idle.put(conn)
        return rows

    def query(self, sql, params=None):
        """All rows of ``sql`` as tuples."""
        return self._execute(sql, params, lambda cursor: cursor.fetchall())

    def query_dicts(self, sql, params=None):
        """All rows of ``sql`` as {column name: value}."""
        def fetch(cursor):
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        return self._execute(sql, params, fetch)


connections = _Connections()


def _gtis(descriptor, stored_layout=None):
    """The GTIs the import stored for a dataset (events' MET, in order):
    from its layout when it holds them, else from hess_dr.gti."""
    import numpy
    if stored_layout is not None and stored_layout.gti is not None:
        return (numpy.asarray(stored_layout.gti[0], dtype=float),
                numpy.asarray(stored_layout.gti[1], dtype=float))
    rows = connections.query("SELECT met_start, met_stop FROM hess_dr.gti"
                             " WHERE obs_publisher_did=%(did)s ORDER BY gti_index",
                             {"did": descriptor.pubDID})
    values = numpy.array(rows, dtype=float).reshape(-1, 2)
    return values[:, 0], values[:, 1]


def _job(descriptor):
    """The serve.Job of a descriptor: its stored obs_index fields and GTIs,
    the file, its collection and the cache directory."""
    collection = collection_of(descriptor)
    if collection is None:
        raise usage_error(f"dataset of unknown collection {descriptor.obs['collection']}")
    gti_start, gti_stop = _gtis(descriptor, _stored_layout(descriptor))
    return hess_serve.Job(row=hess_stored.row_fields(descriptor.obs),
                          path=_local_path(descriptor), gti_start=gti_start,
                          gti_stop=gti_stop, collection=collection,
                          cache_dir=_cache_root())


def _cached_preview(descriptor, kind):
    """A preview from the cache without any heavy work (the sha256 stored
    at import names it while the file is unchanged), or None."""
    from hess_dr import preview
    stored_layout = _stored_layout(descriptor)
    if stored_layout is None or stored_layout.stamp is None \
            or not stored_layout.current(_local_path(descriptor)):
        return None
    try:
        data = preview.cache_path(_preview_cache_dir(), stored_layout.stamp.sha256,
                                  kind).read_bytes()
    except (OSError, ValueError):
        return None
    return data if data.startswith(preview.PNG_SIGNATURE) else None


def _heavy(function, *args, key=None, kind="files"):
    """``function(*args)`` in a heavy-work pool (hess_dr.heavy)."""
    return hess_heavy.shared_pool(kind).run(function, *args, key=key)


# ------------------------------------------- provenance of the publication

#: Configuration values of a collection put into its provenance (no
#: data_dir: a server path is nobody's business; no terms of use text).
_PROVENANCE_CONFIG = ("name", "obs_collection", "title_prefix", "facility_name",
                      "instrument_name", "fov_diameter_deg", "psf_ref_energy_tev",
                      "psf_ref_offset_deg", "calib_level", "tracking_mode",
                      "messenger_name", "messenger_pdgid", "owner", "release",
                      "rights_url")


def publication_provenance(descriptor):
    """PRODUCT=provenance of the prod service (issue 17): (media type,
    PROV-JSON) of the dataset's publication
    (hess_dr.provenance.publication_document)."""
    from hess_dr import provenance
    try:
        obs = descriptor.obs
        path = _local_path(descriptor)
        collection = collection_of(descriptor)
        values = {key: getattr(collection, key, None) for key in _PROVENANCE_CONFIG}
        values = {key: (value if isinstance(value, (int, float, str)) else str(value))
                  for key, value in values.items() if value is not None}
        values.setdefault("name", obs.get("collection"))
        try:
            size = os.stat(path).st_size
        except OSError:
            size = None
        mtime = obs.get("source_mtime")
        document = provenance.publication_document(
            pub_did=descriptor.pubDID, obs_id=str(obs["obs_id"]),
            file_name=os.path.basename(path),
            sha256=provenance.checksum_of(path, obs.get("layout")),
            file_size=size, file_mtime=mtime.isoformat() if mtime else None,
            authority=base.getConfig("ivoa", "authority"), collection=values,
            software=provenance.software_versions(
                names=("hess_dr", "astropy", "numpy", "gammapy"),
                extra={"dachs": base.getVersion()}),
            facility=obs.get("facility_name"),
            access_url=products.makeProductLink(descriptor.accref))
        return (hess_links.PRODUCTS["provenance"],
                provenance.to_json(document).encode("utf-8"))
    except base.ValidationError:
        raise
    except Exception as exc:
        raise internal_error(exc) from exc
