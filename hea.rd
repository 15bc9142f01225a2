<resource schema="ivoa" resdir="hess_dr">
  <meta name="creationDate">2026-11-21T12:00:00Z</meta>
  <meta name="title">ObsCore extension for high-energy event lists</meta>
  <meta name="description">
    The draft IVOA ObsCore extension for high-energy astrophysics
    (ivoa.obscore_hea): per event list, the number of events, the energy
    range in eV, the good time intervals as a T-MOC and the observing modes.
    Join it with ivoa.obscore on obs_publisher_did.
  </meta>
  <meta name="creator">hess_dr operators</meta>
  <meta name="subject">gamma-ray-astronomy</meta>
  <meta name="subject">high-energy-astrophysics</meta>
  <meta name="content.type">Catalog</meta>

  <!-- The view is rebuilt by hess_dr/q's import (recreateAfter), since
  dropping hess_dr.obs_index on re-import drops the view with it. -->
  <table id="obscore_hea" onDisk="True" adql="True">
    <meta name="description">
      ObsCore extension for high-energy data (IVOA draft): one row per
      event list in ivoa.obscore with dataproduct_type 'event' published
      by this service.  Join with ivoa.obscore USING (obs_publisher_did).
    </meta>
    <foreignKey inTable="//obscore#ObsCore" source="obs_publisher_did"/>

    <column original="//obscore#ObsCore.obs_publisher_did"/>
    <column name="ev_xel" type="integer" ucd="meta.number;phot.count"
      utype="obscore:char.spectralaxis.numbins"
      description="Number of events in the event list (integer rather than
        bigint: DaCHS 2.7 serialises SUM() over bigint wrongly)"
      verbLevel="10" required="True"/>
    <column name="energy_min" type="double precision" unit="eV"
      ucd="em.energy;stat.min"
      description="Lowest event energy in the event list (reconstructed)"
      verbLevel="10"/>
    <column name="energy_max" type="double precision" unit="eV"
      ucd="em.energy;stat.max"
      description="Highest event energy in the event list (reconstructed)"
      verbLevel="10"/>
    <column name="s_ref_energy" type="double precision" unit="eV"
      ucd="em.energy;instr.setup"
      description="True energy at which s_resolution (PSF 68% containment
        radius) is given"
      verbLevel="20"/>
    <column name="s_ref_oaa" type="real" unit="deg"
      ucd="pos.angDistance;instr.setup"
      description="Offset from the pointing position (off-axis angle) at
        which s_resolution is given"
      verbLevel="20"/>
    <column name="em_ref_energy" type="double precision" unit="eV"
      ucd="em.energy;instr.setup"
      description="True energy at which the energy resolution is given
        (NULL: not given)"
      verbLevel="30"/>
    <column name="em_ref_oaa" type="real" unit="deg"
      ucd="pos.angDistance;instr.setup"
      description="Off-axis angle at which the energy resolution is given
        (NULL: not given)"
      verbLevel="30"/>
    <column name="t_intervals" type="text"
      ucd="time.interval;obs.exposure"
      description="Good time intervals as an ASCII T-MOC (MOC 2.0: order 61,
        microseconds since JD 0, TDB)"
      verbLevel="20"/>
    <column name="obs_mode" type="text" ucd="meta.code;instr.setup"
      description="Observation mode as given by the instrument (OBS_MODE)"
      verbLevel="15"/>
    <column name="tracking_mode" type="text" ucd="meta.code;instr.setup"
      description="Tracking mode: sidereal, fixed-az-el-transit,
        solar-system-object-tracking, none"
      verbLevel="15"/>
    <column name="scan_mode" type="text" ucd="meta.code;instr.setup"
      description="Scan mode: on-source, on-off, raster-map,
        on-the-fly-cross-scan, on-the-fly-cross-map, slew"
      verbLevel="15"/>
    <column name="pointing_mode" type="text" ucd="meta.code;instr.setup"
      description="Pointing of the telescopes of an array: parallel,
        convergent, divergent"
      verbLevel="15"/>
    <column name="analysis_mode" type="text" ucd="meta.code;instr.setup"
      description="Kind of instrument response the event list comes with:
        full-enclosure or point-like"
      verbLevel="15"/>
    <column name="event_type" type="text" ucd="meta.code.class"
      description="Event class (selection cuts) of the event list (EV_CLASS)"
      verbLevel="15"/>
    <column name="messenger_name" type="text" ucd="meta.id;phys.particle"
      description="Messenger particle of the events"
      verbLevel="15"/>
    <column name="messenger_pdgid" type="integer" ucd="meta.id;phys.particle"
      description="PDG Monte Carlo particle number of the messenger (22: photon)"
      verbLevel="25">
      <values nullLiteral="-1"/>
    </column>
    <column name="data_rights" type="text" ucd="meta.code"
      utype="obscore:curation.rights"
      description="Access to the data today: public (anyone may download
        them) or proprietary (only the owner group until obs_release_date;
        the metadata are public)"
      verbLevel="10"/>
    <column name="obs_release_date" type="timestamp" ucd="time.release"
      utype="obscore:curation.releasedate"
      description="First day (00:00 UTC) from which the data are public
        (NULL: public from the start, or proprietary with no release date
        set: see data_rights)"
      verbLevel="10"/>

    <!-- data_rights: the rule of hess_dr.access.is_public, evaluated when
    queried (a run becomes public on its release date, no re-import) -->
    <viewStatement>
      CREATE OR REPLACE VIEW \qName (\colNames) AS (
        SELECT obs_publisher_did, event_count, energy_min, energy_max,
          s_ref_energy, s_ref_oaa, NULL::double precision, NULL::real,
          t_intervals, obs_mode, tracking_mode, scan_mode, pointing_mode,
          analysis_mode, ev_class, messenger_name, messenger_pdgid,
          CASE WHEN owner IS NULL
              OR obs_release_date &lt;= (now() AT TIME ZONE 'UTC')
            THEN 'public' ELSE 'proprietary' END,
          obs_release_date
        FROM hess_dr.obs_index)
    </viewStatement>
  </table>

  <data id="create">
    <make table="obscore_hea"/>
  </data>
</resource>
