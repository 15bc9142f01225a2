"""Opt-in fixes to DaCHS 2.7 itself, for operators who want them.

hess_dr works without this module: nothing in q.rd or hea.rd loads it.
An operator turns it on by preloading the RD ``hess_dr/dachsfixes`` (add it
to ``[web]preloadRDs`` in gavo.rc).  Each fix is applied only when DaCHS is
2.7 and the function it replaces is, to the byte, the one it was written
against (a SHA-256 of its source); otherwise it is skipped and the reason
logged.  What each fix changes:

``keep_connections_on_unknown_tables`` (every TAP query of the site)
    For every ADQL query, DaCHS 2.7 looks up each name of the FROM clause in
    ``dc.tablemeta`` (``MetaTableHandler.getTableDefForTable``) inside a
    ``with base.getTableConn()`` block.  A correlation name (``FROM
    ivoa.obscore AS o``) is not a table: the lookup raises NotFoundError
    inside the block, and the pool treats any exception there as a broken
    connection and closes it.  The next lookup opens a new PostgreSQL
    session (fork, SCRAM authentication, type set-up: 10 to 20 ms here); a
    query with one alias opened four sessions instead of one.  The fix
    raises that NotFoundError after the block, once the connection is back
    in the pool; database errors still close it as before.

``decode_datalink_arguments`` (hess_dr's DataLink services only)
    DaCHS 2.7 builds a request's query metadata before any service code
    runs and fails with a 500 on a MAXREC that is not UTF-8 and on a
    ``_DBOPTIONS_DIR`` other than ASC/DESC.  For requests to hess_dr's own
    services, the fix decodes non-UTF-8 values (U+FFFD for the bad bytes;
    hess_dr's checks then refuse them with a 400) and drops a bad
    ``_DBOPTIONS_DIR`` (a form option meaningless to DataLink).

``declare_datalink_1_1`` (hess_dr's registry records only)
    DaCHS 2.7 writes every DataLink capability of a registry record (and of
    VOSI capabilities) with the standardID of DataLink 1.0
    (``ivo://ivoa.net/std/DataLink#links-1.0``); DaCHS 2.8 and later write
    1.1.  hess_dr's DataLink service answers DataLink 1.1
    (content_qualifier, the links-1.1 INFO): for publications of hess_dr's
    services, the fix declares ``ivo://ivoa.net/std/DataLink#links-1.1``.

``describe_tap_results_for_datalink_1_1_and_soda`` (TAP results of hess_dr's tables)
    DaCHS 2.7 describes the DataLink service of a TAP result's table as
    DataLink 1.0, and SODA endpoints not at all, so pyvo's
    ``row.processed()`` silently returns the whole file.  For results of
    hess_dr's tables the fix declares the links service as DataLink 1.1 and
    adds a SODA descriptor of hess_dr's cutout service; ivoa.obscore
    results get the SODA descriptor only on a site whose ObsCore rows are
    all hess_dr's (a result streams from the database, so its rows cannot
    be checked first).

``tell_forbidden_from_unauthenticated`` (/getproduct of hess_dr's files only)
    DaCHS 2.7's /getproduct answers every request for an embargoed file it
    will not serve with 401 and a login challenge, also when the user
    logged in correctly and is just not in the owner group, whose browser
    then asks for a password again and again.  For hess_dr's files, the fix
    answers such a user 403 (Forbidden), as hess_dr's own services do;
    anonymous requests and wrong passwords still get DaCHS's 401.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import os

from gavo import base

#: The DaCHS version these fixes were written for.
DACHS_VERSION = "2.7"
_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _source_digest(function) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        return None


def _applicable(name: str, function, digest: str) -> bool:
    """True if ``function`` is the DaCHS 2.7 code the fix ``name`` replaces."""
    version = base.getVersion()
    if version != DACHS_VERSION:
        base.ui.notifyWarning(f"hess_dr/dachsfixes: {name} skipped: written for"
                              f" DaCHS {DACHS_VERSION}, this is DaCHS {version}")
        return False
    if _source_digest(function) != digest:
        base.ui.notifyWarning(f"hess_dr/dachsfixes: {name} skipped: DaCHS's"
                              f" {function.__qualname__} is not the expected code")
        return False
    return True


def keep_connections_on_unknown_tables() -> bool:
    """Install the fixed table lookup on DaCHS's MetaTableHandler (idempotent).

    Returns True if the fix is in place.
    """
    from gavo.rsc import metatable
    handler = metatable.MetaTableHandler
    if getattr(handler.getTableDefForTable, "hess_dr_fix", False):
        return True
    if not _applicable("keep_connections_on_unknown_tables",
                       handler.getTableDefForTable, "2b4d1b154617922a"):
        return False

    def getTableDefForTable(self, tableName):  # noqa: N802, N803 (DaCHS's names)
        with base.getTableConn() as connection:
            try:
                return base.getTableDefForTable(connection, tableName)
            except base.NotFoundError as exc:
                not_found = exc
        raise not_found

    getTableDefForTable.hess_dr_fix = True
    getTableDefForTable.__doc__ = handler.getTableDefForTable.__doc__
    handler.getTableDefForTable = getTableDefForTable
    return True


def decode_datalink_arguments() -> bool:
    """Make DaCHS's DataLink renderers survive odd arguments, for hess_dr's
    services only (idempotent).  Returns True if the fix is in place."""
    from gavo.web import grend, vodal
    from gavo.web.common import BinaryItem
    renderer = vodal._DatalinkRendererBase
    if getattr(renderer.__init__, "hess_dr_fix", False):
        return True
    # the class inherits ServiceBasedPage.__init__, where the failures happen
    if not _applicable("decode_datalink_arguments", grend.ServiceBasedPage.__init__,
                       "b73a5c479777c053"):
        return False
    original_init = renderer.__init__

    def __init__(self, request, service, *args, **kwargs):  # noqa: N807
        if os.path.realpath(service.rd.resdir) == os.path.realpath(_RESDIR):
            for values in request.strargs.values():
                for index, value in enumerate(values):
                    if isinstance(value, BinaryItem):
                        original = value.original
                        values[index] = (original.decode("utf-8", "replace")
                                         if isinstance(original, bytes) else str(original))
            if any(value not in ("ASC", "DESC")
                   for value in request.strargs.get("_DBOPTIONS_DIR", [])):
                del request.strargs["_DBOPTIONS_DIR"]
        original_init(self, request, service, *args, **kwargs)

    __init__.hess_dr_fix = True
    renderer.__init__ = __init__
    return True


#: DataLink 1.1's standardID of the links endpoint.
DATALINK_1_1 = "ivo://ivoa.net/std/DataLink#links-1.1"


def declare_datalink_1_1() -> bool:
    """Declare DataLink 1.1 in the DataLink capabilities of hess_dr's
    publications (idempotent).  Returns True if the fix is in place."""
    from gavo.registry import capabilities
    maker = capabilities.DatalinkCapabilityMaker
    if getattr(maker.__dict__.get("_makeCapability"), "hess_dr_fix", False):
        return True
    # DaCHS's DataLink maker inherits this method and sets links-1.0 by class
    if not _applicable("declare_datalink_1_1", capabilities.CapabilityMaker._makeCapability,
                       "9fbd1cf85b022d32") or "_makeCapability" in maker.__dict__:
        return False
    inherited = capabilities.CapabilityMaker._makeCapability

    def _makeCapability(self, publication):  # noqa: N802 (DaCHS's name)
        capability = inherited(self, publication)
        service = publication.service or publication.parent
        rd = getattr(service, "rd", None)
        if rd is not None and os.path.realpath(rd.resdir) == os.path.realpath(_RESDIR):
            capability(standardID=DATALINK_1_1)
        return capability

    _makeCapability.hess_dr_fix = True
    maker._makeCapability = _makeCapability
    return True


#: SODA's standardID of a synchronous cutout endpoint.
SODA_SYNC = "ivo://ivoa.net/std/SODA#sync-1.0"


def _hess_dr_service(service) -> bool:
    rd = getattr(service, "rd", None)
    return rd is not None and os.path.realpath(rd.resdir) == os.path.realpath(_RESDIR)


def _obscore_is_hess_dr_only() -> bool:
    """True if every ivoa.obscore row of this site is hess_dr's (hess_dr's
    tables are its only sources besides DaCHS's empty placeholder).  A TAP
    result is written while its rows stream from the database, so they
    cannot be looked at first."""
    from gavo import base
    with base.getTableConn() as connection:
        sources = [name for (name,) in connection.query(
            "SELECT tablename FROM ivoa._obscoresources")]
    ours = [name for name in sources if name.startswith("hess_dr.")]
    return bool(ours) and set(sources) <= set(ours) | {"ivoa.emptyobscore"}


def _soda_descriptor(ctx, dl_service, table_def, id_column):
    """The SODA service descriptor of hess_dr's cutout endpoint for a TAP
    result: its ID parameter refers to the result's ``id_column``."""
    from gavo.formats import votablewrite
    from gavo.votable import V
    support, _ = utils_load("datalink")
    params = [votablewrite.makeFieldFromColumn(ctx, V.PARAM, key)
              for key in support.soda_parameters(support.UNBOUNDED)]
    return V.RESOURCE(type="meta", utype="adhoc:service", name="cutout")[
        V.DESCRIPTION["Server-side cutouts of hess_dr's event lists (SODA sync): events by"
                      " energy, time and sky region, with their GTIs and IRFs"],
        V.PARAM(name="standardID", datatype="char", arraysize="*", value=SODA_SYNC),
        V.PARAM(name="accessURL", datatype="char", arraysize="*", ucd="meta.ref.url",
                value=dl_service.getURL("dlget")),
        V.GROUP(name="inputParams")[
            V.PARAM(name="ID", datatype="char", arraysize="*", ucd="meta.id;meta.main",
                    ref=ctx.getOrMakeIdFor(table_def.getColumnByName(id_column),
                                           suggestion=id_column)),
            params]]


@functools.lru_cache(maxsize=None)
def utils_load(name):
    """A module of hess_dr's res/ directory (as DaCHS loads them), loaded
    once: DaCHS's loader executes the module again on every call."""
    from gavo import utils
    return utils.loadPythonModule(os.path.join(_RESDIR, "res", name))


def describe_tap_results_for_datalink_1_1_and_soda() -> bool:
    """TAP results of hess_dr's tables: a DataLink 1.1 service descriptor
    and a SODA one (pyvo's ``row.processed()`` then cuts on the server);
    ivoa.obscore results get the SODA one too on a site whose ObsCore rows
    are all hess_dr's.  Other tables' results, and ObsCore on a site with
    other collections, stay as DaCHS writes them (idempotent; True if the
    fix is in place)."""
    from gavo.protocols import datalink
    original = datalink.makeDatalinkServiceDescriptor
    if getattr(original, "hess_dr_fix", False):
        return True
    if not _applicable("describe_tap_results_for_datalink_1_1_and_soda", original,
                       "08a038b071751ef0"):
        return False

    def makeDatalinkServiceDescriptor(ctx, service, tableDef, columnName):  # noqa: N802, N803
        links = original(ctx, service, tableDef, columnName)
        if _hess_dr_service(service):
            # the links service is hess_dr's own: it answers DataLink 1.1
            from gavo.votable import V
            for param in links.iterChildrenOfType(V.PARAM):
                if param.name == "standardID":
                    param(value=DATALINK_1_1)
            return [links, _soda_descriptor(ctx, service.rd.getById("dl"), tableDef, columnName)]
        if (getattr(service, "rd", None) is not None
                and service.rd.sourceId == "__system__/obscore"
                and _obscore_is_hess_dr_only()):
            from gavo import base
            dl = base.caches.getRD(os.path.basename(_RESDIR) + "/q").getById("dl")
            return [links, _soda_descriptor(ctx, dl, tableDef, columnName)]
        return links

    makeDatalinkServiceDescriptor.hess_dr_fix = True
    datalink.makeDatalinkServiceDescriptor = makeDatalinkServiceDescriptor
    return True


#: The table whose products (hess_dr's event lists) the /getproduct fix serves.
HESS_DR_PRODUCTS_TABLE = "hess_dr.obs_index"


def tell_forbidden_from_unauthenticated() -> bool:
    """403 instead of 401 from /getproduct for a logged-in user outside the
    owner group of a hess_dr file (idempotent).  Returns True if the fix
    is in place."""
    from gavo import svcs
    from gavo.protocols import creds, products
    unauthorized = products.UnauthorizedProduct
    if getattr(unauthorized.render, "hess_dr_fix", False):
        return True
    if not _applicable("tell_forbidden_from_unauthenticated", unauthorized.render,
                       "eb3bb7932513b38c"):
        return False
    dachs_render = unauthorized.render

    def render(self, request):
        user = request.getUser()
        if self.pr.get("sourceTable") == HESS_DR_PRODUCTS_TABLE and user:
            groups = creds.getGroupsForUser(user, request.getPassword())
            if groups:  # a valid login (every user is in their own group)
                if isinstance(user, bytes):
                    user = user.decode("utf-8", "replace")
                raise svcs.ForbiddenURI(
                    f"proprietary data: user {user} is not in group {self.pr.get('owner')}")
        return dachs_render(self, request)

    render.hess_dr_fix = True
    unauthorized.render = render
    return True


def install() -> dict:
    """Apply every fix that fits this DaCHS; {fix name: applied}."""
    applied = {fix.__name__: fix() for fix in (keep_connections_on_unknown_tables,
                                                decode_datalink_arguments,
                                                declare_datalink_1_1,
                                                describe_tap_results_for_datalink_1_1_and_soda,
                                                tell_forbidden_from_unauthenticated)}
    base.ui.notifyInfo(f"hess_dr/dachsfixes: {applied}")
    return applied
