"""The DaCHS side of the registry records, coverage, search form and import
report (q.rd's ``coverage`` and ``import_report`` data, the collections'
LOOP, the ``web`` service's phrase makers).

What to compute lives in the hess_dr package (hess_dr.coverage,
hess_dr.registry, hess_dr.search, hess_dr.importlog); this module reads the
database and the configuration for it.
"""
import os
import sys

_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _RESDIR not in sys.path:
    sys.path.insert(0, _RESDIR)

from gavo import base  # noqa: E402

from hess_dr import config as hess_config  # noqa: E402
from hess_dr import coverage as hess_coverage  # noqa: E402
from hess_dr import importlog, registry, search  # noqa: E402

#: Path of the search form below the server root.
FORM_PATH = "hess_dr/q/web/form"


def _table_exists(connection, name):
    return list(connection.query("SELECT to_regclass(%(t)s)", {"t": name}))[0][0] is not None


# ------------------------------------------------------------- coverage

def coverage_rows(rd):
    """The ``hess_dr.coverage`` rows: one per configured collection that has
    published runs (read through a connection of its own: the import has
    committed when its dependents are made)."""
    configuration = hess_config.load(resdir=rd.resdir)
    cache = hess_coverage.MocCache(
        os.path.join(base.getConfig("cacheDir"), "hess_dr", "coverage"))
    schema = rd.schema
    with base.getTableConn() as connection:
        if not _table_exists(connection, f"{schema}.obs_index"):
            return
        for collection in configuration.collections:
            runs = list(connection.queryToDicts(
                f"SELECT obs_publisher_did, source_mtime::text AS source_mtime, t_min,"
                f" t_max, energy_min, energy_max FROM {schema}.obs_index"
                " WHERE collection=%(c)s", {"c": collection.name}))
            if not runs:
                continue
            names = list(connection.query(
                f"SELECT DISTINCT facility_name, instrume FROM {schema}.obs_index"
                " WHERE collection=%(c)s", {"c": collection.name}))

            def polygons(name=collection.name):
                return [row[0] for row in connection.query(
                    f"SELECT s_region::text FROM {schema}.obs_index"
                    " WHERE collection=%(c)s AND s_region IS NOT NULL", {"c": name})]

            cov = hess_coverage.compute(
                collection.name, collection.obs_collection, runs, polygons,
                facilities=[n[0] for n in names], instruments=[n[1] for n in names],
                cache=cache)
            base.ui.notifyInfo(
                f"hess_dr: coverage of {collection.name}: {cov.n_runs} runs,"
                f" MOC order {cov.moc_order} ({len(cov.moc or '')} characters),"
                f" {len(cov.temporal)} time interval(s)")
            yield cov.row()


def collection_coverages(schema="hess_dr"):
    """{collection name: Coverage} as the last import computed them ({} before
    the first import, or when the database cannot be read)."""
    try:
        with base.getTableConn() as connection:
            if not _table_exists(connection, f"{schema}.coverage"):
                return {}
            return {row["collection"]: hess_coverage.Coverage.from_row(row)
                    for row in connection.queryToDicts(f"SELECT * FROM {schema}.coverage")}
    except Exception as exc:  # the RD must load without a database too
        base.ui.notifyWarning(f"hess_dr: no coverage for the registry records ({exc})")
        return {}


def collection_items(resdir):
    """The items of q.rd's LOOP making one record service per collection."""
    configuration = hess_config.load(resdir=resdir)
    return registry.records(configuration, collection_coverages(),
                            base.getConfig("web", "serverURL"), FORM_PATH)


# --------------------------------------------------------- import report

def import_report_rows(rd):
    """(role, row) of the import that just ran in this process: one
    ``import_runs`` row and its ``import_files`` rows; prints the summary."""
    log = importlog.take()
    if log is None:
        base.ui.notifyInfo("hess_dr: no import ran in this process; no report")
        return
    published_total = None
    try:
        with base.getTableConn() as connection:
            if _table_exists(connection, f"{rd.schema}.obs_index"):
                published_total = list(connection.query(
                    f"SELECT count(*) FROM {rd.schema}.obs_index"))[0][0]
    except Exception:
        pass
    for line in log.summary(published_total).split("\n"):
        base.ui.notifyInfo(line)
    import_id = log.started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    yield "import_runs", log.report_row(import_id, published_total)
    for row in log.file_rows(import_id):
        yield "import_files", row


# ------------------------------------------------------------ search form

def published_values(column, schema="hess_dr"):
    """The distinct values of a column of obs_index (the choices of the
    form's collection and instrument fields); none before the first
    import."""
    if column not in ("obs_collection", "instrume"):
        raise ValueError(column)
    try:
        with base.getTableConn() as connection:
            if not _table_exists(connection, f"{schema}.obs_index"):
                return []
            return [row[0] for row in connection.query(
                f"SELECT DISTINCT {column} FROM {schema}.obs_index"
                f" WHERE {column} IS NOT NULL ORDER BY 1")]
    except Exception as exc:  # the RD must load without a database too
        base.ui.notifyWarning(f"hess_dr: no choices for the form's {column} ({exc})")
        return []


def _error(exc):
    return base.ValidationError(str(exc), exc.field)


def _number(value):
    if value is None:
        return None
    number = float(value)
    return number


def position_sql(in_pars, out_pars, schema="hess_dr"):
    """The cone condition of the form's position and radius."""
    text = (in_pars.get("pos") or "").strip()
    radius = _number(in_pars.get("radius"))
    if not text:
        return
    try:
        position = search.parse_coordinates(text)
        if position is None:
            position = search.resolve_target(text, lookup_names(text, schema))
        radius = search.check_radius(radius)
    except search.SearchError as exc:
        raise _error(exc) from None
    yield ("q3c_radial_query(s_ra, s_dec, %%(%s)s, %%(%s)s, %%(%s)s)" % (
        base.getSQLKey("ra", position.ra, out_pars),
        base.getSQLKey("dec", position.dec, out_pars),
        base.getSQLKey("radius", radius, out_pars)))


def lookup_names(text, schema="hess_dr"):
    """The published names containing ``text`` (normalised), with the mean
    unit vector of their runs' target positions."""
    query = f"""
        SELECT name, count(*),
          avg(cos(radians(dec)) * cos(radians(ra))),
          avg(cos(radians(dec)) * sin(radians(ra))),
          avg(sin(radians(dec)))
        FROM (
          SELECT target_name AS name, coalesce(ra_obj, s_ra) AS ra,
            coalesce(dec_obj, s_dec) AS dec FROM {schema}.obs_index
          UNION ALL
          SELECT object, coalesce(ra_obj, s_ra), coalesce(dec_obj, s_dec)
            FROM {schema}.obs_index) AS named
        WHERE name IS NOT NULL AND ra IS NOT NULL AND dec IS NOT NULL
          AND lower(regexp_replace(name, '[^A-Za-z0-9]+', '', 'g')) LIKE %(pattern)s
        GROUP BY name"""
    with base.getTableConn() as connection:
        return [search.NamedRuns(name, runs, x, y, z)
                for name, runs, x, y, z in connection.query(
                    query, {"pattern": search.name_pattern(text)})]


def energy_sql(in_pars, out_pars):
    try:
        lo, hi = search.check_energy_range(_number(in_pars.get("emin")),
                                           _number(in_pars.get("emax")))
    except search.SearchError as exc:
        raise _error(exc) from None
    if lo is not None:
        yield "energy_max >= %%(%s)s" % base.getSQLKey("emin", lo * 1e12, out_pars)
    if hi is not None:
        yield "energy_min <= %%(%s)s" % base.getSQLKey("emax", hi * 1e12, out_pars)


def date_sql(in_pars, out_pars):
    try:
        start = search.parse_date(in_pars.get("date_from"), "date_from")
        stop = search.parse_date(in_pars.get("date_to"), "date_to", end=True)
        search.check_date_range(start, stop)
    except search.SearchError as exc:
        raise _error(exc) from None
    if start is not None:
        yield "t_max >= %%(%s)s" % base.getSQLKey("tfrom", start, out_pars)
    if stop is not None:
        yield "t_min < %%(%s)s" % base.getSQLKey("tto", stop, out_pars)


def minimum_sql(in_pars, out_pars, key, column, what, op=">=", upper=None):
    try:
        value = search.check_minimum(_number(in_pars.get(key)), key, what, upper)
    except search.SearchError as exc:
        raise _error(exc) from None
    if value is not None:
        yield "%s %s %%(%s)s" % (column, op, base.getSQLKey(key, value, out_pars))

