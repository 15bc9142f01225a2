"""The core of the services q.rd makes for the collections' registry records.

Such a service is the record of one collection (see hess_dr.registry):
its capabilities are those of hess_dr's other services (the search form,
DataLink, SODA, TAP), named in its ``<publish>`` elements.  This core only
says which tables the record's tableset lists: the TAP tables holding the
collection (ivoa.obscore, ivoa.obscore_hea, hess_dr.obs_index,
hess_dr.gti).  Asked to run, it refuses: the collection is searched
through the services its record names.
"""
from gavo import base, svcs

#: (RD id, table id) of the tables in every collection record's tableset.
TABLES = (("//obscore", "ObsCore"), ("hess_dr/hea", "obscore_hea"),
          ("hess_dr/q", "obs_index"), ("hess_dr/q", "gti"))


class Core(svcs.Core):
    """Names the TAP tables of a collection record; runs nothing."""

    name_ = "hessDrCollectionCore"

    def getRelevantTables(self):
        tables = []
        for rd_id, table_id in TABLES:
            rd = self.rd if rd_id == self.rd.sourceId else base.caches.getRD(rd_id)
            tables.append(rd.getById(table_id))
        return tables

    def run(self, service, inputTable, queryMeta):
        raise svcs.UnknownURI("This resource describes a collection; search it with"
                              " the services its record names (the search form,"
                              " TAP, DataLink).")
