<!-- ObsCore 1.1's curation columns data_rights and obs_release_date in
ivoa.obscore: opt-in for the operator of a site.

DaCHS 2.7's ivoa.obscore has neither column; without them, hess_dr gives
both in ivoa.obscore_hea and hess_dr.obs_index.  An operator who wants them
in ivoa.obscore itself uses DaCHS's own way of extending ObsCore (the
site's etc/userconfig.rd), which changes the site-wide view: every other
resource's rows get NULL in both columns.  Add to etc/userconfig.rd:

  <STREAM id="obscore-extracolumns">
    <FEED source="hess_dr/obscorerights#columns"/>
  </STREAM>
  <STREAM id="obscore-extrapars">
    <FEED source="hess_dr/obscorerights#pars"/>
  </STREAM>
  <STREAM id="obscore-extraevents">
    <FEED source="hess_dr/obscorerights#events"/>
  </STREAM>

then run `dachs imp //obscore`, `dachs imp //obscore refreshAfterSchemaUpdate`
and re-import every RD that contributes to ivoa.obscore (hess_dr/q sets
both columns when the site declares them).  The demo and test instances
write exactly that. -->
<resource schema="hess_dr" resdir="hess_dr">
  <meta name="creationDate">2026-12-02T12:00:00Z</meta>
  <meta name="title">hess_dr: data_rights and obs_release_date for ivoa.obscore</meta>
  <meta name="description">
    Column definitions, mixin parameters and SQL fragments a site feeds
    into its ObsCore table (etc/userconfig.rd) to publish ObsCore 1.1's
    data_rights and obs_release_date in ivoa.obscore.
  </meta>
  <meta name="subject">virtual-observatories</meta>

  <STREAM id="columns">
    <column name="data_rights" type="text" ucd="meta.code"
      utype="obscore:curation.rights" verbLevel="15"
      description="Access to the dataset today: public, secure or
        proprietary (NULL: not given by the publisher)"/>
    <column name="obs_release_date" type="timestamp" ucd="time.release"
      utype="obscore:curation.releasedate" verbLevel="15"
      description="When the dataset became or becomes public (NULL: not
        given, or no release date set)"/>
  </STREAM>

  <STREAM id="pars">
    <mixinPar key="dataRights" description="SQL giving data_rights
      (public, secure or proprietary)">NULL</mixinPar>
    <mixinPar key="obsReleaseDate" description="SQL giving obs_release_date
      (a timestamp)">NULL</mixinPar>
  </STREAM>

  <STREAM id="events">
    <property name="obscoreClause" cumulate="True">,
      CAST(\\dataRights AS text) AS data_rights,
      CAST(\\obsReleaseDate AS timestamp) AS obs_release_date
    </property>
  </STREAM>
</resource>
