"""Keeps DaCHS 2.7's pooled database connections alive across ADQL queries.

For every ADQL query, DaCHS looks up each name of its FROM clause in
``dc.tablemeta`` (``MetaTableHandler.getTableDefForTable``) inside a
``with base.getTableConn()`` block.  A name that is not a table, which is
what every correlation name is (``FROM ivoa.obscore AS o``: DaCHS looks up
``o``), raises NotFoundError inside that block, and the pool treats any
exception there as a broken connection: it closes it.  The next lookup then
opens a new PostgreSQL session (fork, SCRAM authentication, DaCHS's type
set-up: 10 to 20 ms on the benchmark machine).  A query with one alias did
this three times: four sessions per query instead of one, a third of the
latency of a cone + energy + time query on the 100k archive.

:func:`keep_connections_on_unknown_tables` raises that NotFoundError after
the block instead, once the connection is back in the pool; database errors
still reach the pool and close the connection as before.  q.rd installs it
when it is loaded; operators preload hess_dr/q (``[web]preloadRDs``) so that
it is in place before the first query.
"""
from gavo import base
from gavo.rsc import metatable


def keep_connections_on_unknown_tables() -> None:
    """Install the fixed table lookup on DaCHS's MetaTableHandler (idempotent)."""
    handler = metatable.MetaTableHandler
    if getattr(handler.getTableDefForTable, "keeps_connection", False):
        return

    def getTableDefForTable(self, tableName):  # noqa: N802, N803 (DaCHS's names)
        with base.getTableConn() as connection:
            try:
                return base.getTableDefForTable(connection, tableName)
            except base.NotFoundError as exc:
                not_found = exc
        raise not_found

    getTableDefForTable.keeps_connection = True
    getTableDefForTable.__doc__ = handler.getTableDefForTable.__doc__
    handler.getTableDefForTable = getTableDefForTable
