<resource schema="hess_dr" resdir="hess_dr">
  <meta name="creationDate">2026-11-21T12:00:00Z</meta>
  <meta name="title">Gamma-ray DL3 event lists (H.E.S.S. DL3 DR1 and others)</meta>
  <meta name="description">
    Event lists of imaging atmospheric Cherenkov telescopes and other
    high-energy instruments in the GADF DL3 format, published through
    ObsCore (dataproduct_type 'event') with the draft high-energy extension
    ivoa.obscore_hea, GADF observation metadata (hess_dr.obs_index) and the
    good time intervals of every run (hess_dr.gti).  The default
    configuration publishes the H.E.S.S. DL3 public test data release 1
    (2018): observations of the Crab nebula, PKS 2155-304, MSH 15-52,
    RX J1713.7-3946 and of empty fields, 2004 to 2008.
  </meta>
  <meta name="creator">H.E.S.S. Collaboration</meta>
  <meta name="contentLevel">Research</meta>
  <meta name="subject">gamma-ray-astronomy</meta>
  <meta name="subject">high-energy-astrophysics</meta>
  <meta name="subject">cherenkov-telescopes</meta>
  <meta name="type">Archive</meta>
  <meta name="content.type">Catalog</meta>
  <meta name="facility">H.E.S.S.</meta>
  <meta name="instrument">H.E.S.S. Phase I</meta>
  <meta name="coverage.waveband">Gamma-ray</meta>
  <meta name="referenceURL">https://www.mpi-hd.mpg.de/hfm/HESS/pages/dl3-dr1/</meta>
  <LOOP>
    <codeItems>
      # the resdir declared above, as DaCHS resolves it
      from hess_dr import config
      resdir = base.getConfig("inputsDir") + "/hess_dr"
      yield {"rights": config.load(resdir=resdir).rights}
    </codeItems>
    <events>
      <meta name="rights">\rights</meta>
    </events>
  </LOOP>

  <table id="obs_index" onDisk="True" adql="True" primary="obs_publisher_did">
    <meta name="description">
      GADF observation index: one row per published event list, with the
      lowercase GADF obs-index columns (pointing, times in MET, live time,
      telescopes, quality...), and the values ivoa.obscore and
      ivoa.obscore_hea are built from.  Values missing from an event list's
      header are taken from the GADF obs-index file next to it, then from
      the operator configuration, else NULL.
    </meta>
    <meta name="_associatedDatalinkService">
      <meta name="serviceId">dl</meta>
      <meta name="idColumn">obs_publisher_did</meta>
    </meta>

    <mixin>//products#table</mixin>
    <mixin
      productType="'event'"
      calibLevel="calib_level"
      collectionName="obs_collection"
      targetName="target_name"
      obsId="obs_id"
      title="obs_title"
      did="obs_publisher_did"
      ra="s_ra"
      dec="s_dec"
      fov="s_fov"
      coverage="s_region"
      sResolution="s_resolution"
      tMin="t_min"
      tMax="t_max"
      expTime="livetime"
      emMin="em_min"
      emMax="em_max"
      oUCD="'phot.count'"
      facilityName="facility_name"
      instrumentName="instrume"
      sXel1="-1"
      sXel2="-1"
      tXel="-1"
      emXel="-1"
      polXel="-1"
      preview="'\getConfig{web}{serverURL}/\rdId/prod/dlget?PRODUCT=preview-image&amp;ID='
        || replace(replace(replace(replace(replace(obs_publisher_did,
          chr(37), chr(37) || '25'), '&amp;', chr(37) || '26'), '+', chr(37) || '2B'),
          '#', chr(37) || '23'), ' ', chr(37) || '20')"
      createDIDIndex="False"
      >//obscore#publish<LOOP>
        <!-- data_rights and obs_release_date, where the site's operator
        added them to ivoa.obscore (res/obscore-rights.rd, DaCHS's
        userconfig mechanism); without, DaCHS 2.7's ObsCore has no such
        columns and ivoa.obscore_hea carries them -->
        <codeItems>
          if "dataRights" in {par.key for par in
              base.resolveCrossId("//obscore#publish").pars}:
            yield {}
        </codeItems>
        <events>
          <dataRights>CASE WHEN owner IS NULL
            OR obs_release_date &lt;= (now() AT TIME ZONE 'UTC')
            THEN 'public' ELSE 'proprietary' END</dataRights>
          <obsReleaseDate>obs_release_date</obsReleaseDate>
        </events>
      </LOOP></mixin>

    <index columns="obs_id"/>
    <index columns="t_min"/>
    <index columns="t_max"/>
    <index columns="target_name"/>
    <index columns="s_region" method="GIST"/>
    <index columns="source_path"/>
    <index columns="object"/>
    <!-- ADQL cones on (s_ra, s_dec) become q3c_join; without this they scan -->
    <index name="q3c_obs_index" kind="q3c" cluster="False">
      <columns>s_ra, s_dec</columns>
      q3c_ang2ipix(s_ra, s_dec)
    </index>

    <column name="obs_publisher_did" type="text" ucd="meta.ref.ivoid"
      tablehead="Dataset id" verbLevel="1" required="True"
      description="Publisher's dataset identifier of the event list (the
        DataLink ID; joins with ivoa.obscore and ivoa.obscore_hea)"/>
    <column name="collection" type="text" ucd="meta.id;meta.dataset"
      verbLevel="15" required="True"
      description="Name of the hess_dr collection (operator configuration)"/>
    <column name="obs_collection" type="text" ucd="meta.id"
      verbLevel="15" required="True"
      description="ObsCore collection name of the event list"/>
    <column name="calib_level" type="smallint" ucd="meta.code;obs.calib"
      verbLevel="25" required="True"
      description="ObsCore calibration level (2: calibrated event list)"/>
    <column name="obs_id" type="text" ucd="meta.id;obs"
      tablehead="Obs. id" verbLevel="1" required="True"
      description="Observation (run) identifier, OBS_ID, as text"/>
    <column name="obs_title" type="text" ucd="meta.title;obs"
      verbLevel="10"
      description="Human-readable title of the event list"/>
    <column name="facility_name" type="text" ucd="meta.id;instr.tel"
      verbLevel="10"
      description="Observatory or facility (configuration, else TELESCOP)"/>
    <column name="telescop" type="text" ucd="meta.id;instr.tel"
      verbLevel="20"
      description="TELESCOP header keyword (mission name)"/>
    <column name="instrume" type="text" ucd="meta.id;instr"
      verbLevel="10"
      description="Instrument (INSTRUME header, else configuration)"/>
    <column name="object" type="text" ucd="meta.id;src"
      verbLevel="15"
      description="OBJECT header keyword: name of the observed field"/>
    <column name="target_name" type="text" ucd="meta.id;src"
      tablehead="Target" verbLevel="1"
      description="Science target: obs-index TARGET_NAME, else OBJECT"/>
    <column name="target_tag" type="text" ucd="meta.id;src"
      verbLevel="25"
      description="Short target tag from the obs-index (TARGET_TAG)"/>
    <column name="obs_mode" type="text" ucd="meta.code;instr.setup"
      verbLevel="15"
      description="Observation mode (OBS_MODE, e.g. WOBBLE)"/>
    <column name="ev_class" type="text" ucd="meta.code.class"
      verbLevel="20"
      description="Event class / selection cuts (EV_CLASS)"/>
    <column name="ra_pnt" type="double precision" unit="deg"
      ucd="pos.eq.ra;obs.field" verbLevel="1"
      description="Pointing position, right ascension (ICRS)"/>
    <column name="dec_pnt" type="double precision" unit="deg"
      ucd="pos.eq.dec;obs.field" verbLevel="1"
      description="Pointing position, declination (ICRS)"/>
    <column name="glon_pnt" type="double precision" unit="deg"
      ucd="pos.galactic.lon;obs.field" verbLevel="15"
      description="Pointing position, galactic longitude"/>
    <column name="glat_pnt" type="double precision" unit="deg"
      ucd="pos.galactic.lat;obs.field" verbLevel="15"
      description="Pointing position, galactic latitude"/>
    <column name="alt_pnt" type="real" unit="deg"
      ucd="pos.az.alt;obs.field" verbLevel="15"
      description="Mean altitude of the pointing during the run"/>
    <column name="az_pnt" type="real" unit="deg"
      ucd="pos.az.azi;obs.field" verbLevel="15"
      description="Mean azimuth of the pointing during the run"/>
    <column name="zen_pnt" type="real" unit="deg"
      ucd="pos.az.zd;obs.field" verbLevel="15"
      description="Mean zenith angle of the pointing (ZEN_PNT, else
        90 - ALT_PNT)"/>
    <column name="ra_obj" type="double precision" unit="deg"
      ucd="pos.eq.ra;src" verbLevel="20"
      description="Right ascension of the target object (RA_OBJ)"/>
    <column name="dec_obj" type="double precision" unit="deg"
      ucd="pos.eq.dec;src" verbLevel="20"
      description="Declination of the target object (DEC_OBJ)"/>
    <column name="ontime" type="double precision" unit="s"
      ucd="time.duration;obs.exposure" verbLevel="10"
      description="Total good time including dead time (ONTIME)"/>
    <column name="livetime" type="double precision" unit="s"
      ucd="time.duration;obs.exposure" verbLevel="1"
      description="Dead-time corrected observing time (LIVETIME)"/>
    <column name="deadc" type="double precision"
      ucd="arith.factor;instr.det" verbLevel="15"
      description="Dead time correction factor, LIVETIME/ONTIME (DEADC)"/>
    <column name="tstart" type="double precision" unit="s"
      ucd="time.start;obs.exposure" verbLevel="15"
      description="Start of the run in mission elapsed time (TSTART, seconds
        since MJDREF in TIMESYS)"/>
    <column name="tstop" type="double precision" unit="s"
      ucd="time.end;obs.exposure" verbLevel="15"
      description="End of the run in mission elapsed time (TSTOP)"/>
    <column name="mjdrefi" type="double precision" unit="d"
      ucd="time.epoch" verbLevel="25"
      description="Integer part of the MET reference epoch (MJD, TIMESYS)"/>
    <column name="mjdreff" type="double precision" unit="d"
      ucd="time.epoch" verbLevel="25"
      description="Fractional part of the MET reference epoch (MJD, TIMESYS)"/>
    <column name="timesys" type="text" ucd="time.scale"
      verbLevel="25"
      description="Time scale of MET values and of date_obs...time_end
        (TIMESYS, e.g. TT)"/>
    <column name="date_obs" type="text" ucd="time.start;obs"
      verbLevel="20"
      description="Start date of the run (DATE-OBS, time scale TIMESYS)"/>
    <column name="time_obs" type="text" ucd="time.start;obs"
      verbLevel="20"
      description="Start time of day of the run (TIME-OBS, TIMESYS)"/>
    <column name="date_end" type="text" ucd="time.end;obs"
      verbLevel="20"
      description="End date of the run (DATE-END, TIMESYS)"/>
    <column name="time_end" type="text" ucd="time.end;obs"
      verbLevel="20"
      description="End time of day of the run (TIME-END, TIMESYS)"/>
    <column name="t_min" type="double precision" unit="d"
      ucd="time.start;obs.exposure" verbLevel="1"
      description="Start of the run, MJD UTC (converted with astropy from
        TSTART, MJDREF and TIMESYS)"/>
    <column name="t_max" type="double precision" unit="d"
      ucd="time.end;obs.exposure" verbLevel="1"
      description="End of the run, MJD UTC (from TSTOP)"/>
    <column name="gti_count" type="integer" ucd="meta.number;time.interval"
      verbLevel="20" required="True"
      description="Number of good time intervals (rows in hess_dr.gti)"/>
    <column name="t_intervals" type="text" ucd="time.interval;obs.exposure"
      verbLevel="30"
      description="Good time intervals as an ASCII T-MOC (MOC 2.0, order
        61: microseconds since JD 0 in TDB)"/>
    <column name="n_tels" type="smallint" ucd="meta.number;instr.tel"
      verbLevel="15"
      description="Number of telescopes participating in the run (N_TELS)">
      <values nullLiteral="-1"/>
    </column>
    <column name="tellist" type="text" ucd="meta.id;instr.tel"
      verbLevel="20"
      description="Comma-separated telescope ids (TELLIST)"/>
    <column name="quality" type="smallint" ucd="meta.code.qual"
      verbLevel="15"
      description="Run quality flag of the obs-index (QUALITY; 0: best)">
      <values nullLiteral="-1"/>
    </column>
    <column name="muoneff" type="real" ucd="instr.calib"
      verbLevel="20"
      description="Muon efficiency of the telescopes (MUONEFF)"/>
    <column name="geolon" type="double precision" unit="deg"
      ucd="pos.earth.lon;instr.tel" verbLevel="25"
      description="Longitude of the observatory (GEOLON)"/>
    <column name="geolat" type="double precision" unit="deg"
      ucd="pos.earth.lat;instr.tel" verbLevel="25"
      description="Latitude of the observatory (GEOLAT)"/>
    <column name="altitude" type="real" unit="m"
      ucd="pos.earth.altitude;instr.tel" verbLevel="25"
      description="Altitude of the observatory (ALTITUDE, in m; converted
        from km when the keyword's comment or the configuration says km)"/>
    <column name="event_count" type="integer" ucd="meta.number;phot.count"
      verbLevel="1" required="True"
      description="Number of events in the event list (EVENTS rows)"/>
    <column name="energy_min" type="double precision" unit="eV"
      ucd="em.energy;stat.min" verbLevel="10"
      description="Lowest reconstructed event energy"/>
    <column name="energy_max" type="double precision" unit="eV"
      ucd="em.energy;stat.max" verbLevel="10"
      description="Highest reconstructed event energy"/>
    <column name="em_min" type="double precision" unit="m"
      ucd="em.wl;stat.min" verbLevel="25"
      description="Shortest wavelength, h c / energy_max (ObsCore em_min)"/>
    <column name="em_max" type="double precision" unit="m"
      ucd="em.wl;stat.max" verbLevel="25"
      description="Longest wavelength, h c / energy_min (ObsCore em_max)"/>
    <column name="safe_energy_lo" type="real" unit="TeV"
      ucd="em.energy;stat.min;instr.setup" verbLevel="15"
      description="Lower bound of the safe energy range (obs-index, else
        AEFF LO_THRES)"/>
    <column name="safe_energy_hi" type="real" unit="TeV"
      ucd="em.energy;stat.max;instr.setup" verbLevel="15"
      description="Upper bound of the safe energy range (obs-index, else
        AEFF HI_THRES)"/>
    <column name="s_ra" type="double precision" unit="deg"
      ucd="pos.eq.ra" verbLevel="15"
      description="Centre of s_region, right ascension (ICRS): the pointing;
        for runs without a pointing the centre of the file's region of
        interest or of the events (see s_region_origin), else NULL"/>
    <column name="s_dec" type="double precision" unit="deg"
      ucd="pos.eq.dec" verbLevel="15"
      description="Centre of s_region, declination (ICRS); see s_ra"/>
    <column name="s_fov" type="real" unit="deg"
      ucd="phys.angSize;instr.fov" verbLevel="15"
      description="Diameter of the field of view (configuration); for runs
        without a pointing, of the circle s_region is built around"/>
    <column name="s_region" type="spoly" unit="deg"
      ucd="pos.outline;obs.field" verbLevel="15"
      description="Field of view: a polygon inscribed in the circle of
        diameter s_fov around the pointing position; for runs without a
        pointing a polygon containing the circle of the file's region of
        interest or of every event (NULL if it would exceed a hemisphere)"/>
    <column name="s_region_origin" type="text" ucd="meta.note"
      verbLevel="25"
      description="Where s_region comes from: pointing (configured field of
        view around the pointing), file-roi (the file's data sub-space
        region of interest), events (the circle around the events' mean
        direction holding them all), NULL (no region)"/>
    <column name="s_resolution" type="real" unit="arcsec"
      ucd="pos.angResolution" verbLevel="15"
      description="PSF 68% containment radius at s_ref_energy and
        s_ref_oaa (from the PSF HDU)"/>
    <column name="s_ref_energy" type="double precision" unit="eV"
      ucd="em.energy;instr.setup" verbLevel="25"
      description="True energy at which s_resolution is evaluated"/>
    <column name="s_ref_oaa" type="real" unit="deg"
      ucd="pos.angDistance;instr.setup" verbLevel="25"
      description="Offset from the pointing at which s_resolution is
        evaluated"/>
    <column name="tracking_mode" type="text" ucd="meta.code;instr.setup"
      verbLevel="25" description="ObsCore-HEA tracking mode"/>
    <column name="scan_mode" type="text" ucd="meta.code;instr.setup"
      verbLevel="25" description="ObsCore-HEA scan mode (from OBS_MODE)"/>
    <column name="pointing_mode" type="text" ucd="meta.code;instr.setup"
      verbLevel="25"
      description="ObsCore-HEA pointing mode (from CONV_DEP)"/>
    <column name="analysis_mode" type="text" ucd="meta.code;instr.setup"
      verbLevel="25"
      description="IRF kind: full-enclosure or point-like (HDUCLAS3)"/>
    <column name="messenger_name" type="text" ucd="meta.id;phys.particle"
      verbLevel="25" description="Messenger particle"/>
    <column name="messenger_pdgid" type="integer" ucd="meta.id;phys.particle"
      verbLevel="25" description="PDG particle number of the messenger">
      <values nullLiteral="-1"/>
    </column>
    <column name="irf_types" type="text" ucd="meta.code;instr.calib"
      verbLevel="20"
      description="Instrument responses available for the run, as GADF
        HDU types (aeff edisp psf bkg rad_max)"/>
    <column name="layout" type="text" ucd="meta.code;meta.file"
      verbLevel="30"
      description="How the import read the file (JSON, what the DataLink,
        SODA and product services serve from): positions of the EVENTS and
        GTI tables, the event columns, the unit of ENERGY and where it came
        from (TUNIT, EUNIT or the configuration), the time reference
        keywords, each IRF's HDU and file (relative to the event file's
        folder), and the file's size, modification time and SHA-256"/>
    <column name="obs_release_date" type="timestamp" ucd="time.release"
      utype="obscore:curation.releasedate" tablehead="Public from"
      verbLevel="15"
      description="First day (00:00 UTC) from which anyone may read the
        run's data (NULL: public from the start if owner is NULL, else
        proprietary with no release date set).  Before it, only members
        of the owner group may; metadata are always public."/>
    <column name="problems" type="text" ucd="meta.note"
      verbLevel="30"
      description="What was found odd in the file at import (or NULL)"/>
    <!-- hidden: not in TAP (a server path is nobody's business) -->
    <column name="source_path" type="text" ucd="meta.id;meta.file"
      verbLevel="30" required="True" hidden="True"
      description="The event list file (inputs-relative or absolute path) as
        the import saw it; incremental imports compare it with the disk"/>
    <column name="source_mtime" type="timestamp" ucd="time.processing"
      verbLevel="30" required="True"
      description="Modification time (UTC) of the file when it was imported"/>
  </table>

  <table id="gti" onDisk="True" adql="True">
    <meta name="description">
      Good time intervals (GTIs) of every published event list, one row per
      interval.  t_start/t_stop are MJD UTC like ivoa.obscore's t_min/t_max;
      met_start/met_stop are the values in the event list (seconds since
      MJDREF in TIMESYS, see hess_dr.obs_index).
    </meta>
    <foreignKey inTable="obs_index" source="obs_publisher_did"/>
    <index columns="obs_publisher_did"/>
    <index columns="t_start"/>
    <index columns="t_stop"/>

    <column original="obs_index.obs_publisher_did"/>
    <column original="obs_index.obs_id"/>
    <column original="obs_index.collection"/>
    <column name="gti_index" type="integer" ucd="meta.number"
      required="True" verbLevel="15"
      description="Position of the interval within its run, from 0"/>
    <column name="t_start" type="double precision" unit="d"
      ucd="time.start" required="True" verbLevel="1"
      description="Start of the good time interval, MJD UTC"/>
    <column name="t_stop" type="double precision" unit="d"
      ucd="time.end" required="True" verbLevel="1"
      description="End of the good time interval, MJD UTC"/>
    <column name="met_start" type="double precision" unit="s"
      ucd="time.start" required="True" verbLevel="10"
      description="Start of the interval in the event list's MET (GTI START)"/>
    <column name="met_stop" type="double precision" unit="s"
      ucd="time.end" required="True" verbLevel="10"
      description="End of the interval in the event list's MET (GTI STOP)"/>
    <column name="duration" type="double precision" unit="s"
      ucd="time.duration" required="True" verbLevel="10"
      description="Length of the interval, met_stop - met_start"/>
  </table>

  <!-- Incremental: a re-import reads only new files and files modified
  since their import (ignoreSources fromdbUpdating); rows of a re-read file
  are replaced and rows of vanished files removed (newSource script and the
  prune pseudo-source).  `dachs drop hess_dr/q` then `dachs imp hess_dr/q`
  re-reads everything. -->
  <data id="import" updating="True">
    <recreateAfter>hess_dr/hea#create</recreateAfter>
    <recreateAfter>hess_dr/q#make_coverage</recreateAfter>
    <recreateAfter>hess_dr/q#import_report</recreateAfter>
    <!-- One pattern per directory below each data_dir, rather than
    recurse="True": DaCHS 2.7's recursive walk never ends on a dangling
    symbolic link, skips symlinked directories and directories with glob
    characters in their names (see hess_dr.sources.source_patterns). -->
    <sources>
      <LOOP>
        <codeItems>
          from hess_dr import config, sources
          resdir = base.getConfig("inputsDir") + "/hess_dr"
          for collection in config.load(resdir=resdir).collections:
            for pattern in sources.source_patterns(str(collection.data_dir)):
              yield {"pattern": pattern}
        </codeItems>
        <events>
          <pattern>\pattern</pattern>
        </events>
      </LOOP>
      <!-- after the LOOP: placed before it, DaCHS 2.7 silently drops it -->
      <ignoreSources fromdbUpdating="SELECT source_path, source_mtime
          FROM \schema.obs_index">
        <!-- GADF index files are read for metadata, not as event lists -->
        <pattern>*obs-index.fits*</pattern>
        <pattern>*hdu-index.fits*</pattern>
      </ignoreSources>
      <!-- a pseudo-source, never ignored, so every import (also one that
      reads no file) prunes the rows of vanished files: see newSource -->
      <item>hess_dr:prune-vanished-files</item>
    </sources>
    <customGrammar module="res/dl3grammar" isDispatching="True">
      <rowfilter procDef="//products#define">
        <bind key="table">"\schema.obs_index"</bind>
        <bind key="accref">@accref</bind>
        <bind key="path">@access_path</bind>
        <bind key="owner">@owner</bind>
        <bind key="embargo">@embargo</bind>
        <bind key="mime">@access_format</bind>
        <!-- DaCHS sends ?preview=True to this URL (it checks no rights
        for previews): hess_dr's preview service decides who may see it -->
        <bind key="preview">@preview_url</bind>
        <bind key="preview_mime">"image/png"</bind>
      </rowfilter>
    </customGrammar>

    <make table="obs_index" role="obs_index">
      <rowmaker idmaps="*">
        <map key="obs_publisher_did">\standardPubDID</map>
      </rowmaker>
      <!-- Every dc.products insert runs the dupe-policy trigger of DaCHS, an
      EXISTS on accref.  PostgreSQL caches the plan of that query for the
      session; made while dc.products is empty (a first import), it is a
      sequential scan, and the import slows down quadratically (31,000 scans
      reading 150 million rows for 10,000 runs).  Custom plans see the table
      grow and use its primary key. -->
      <script type="preImport" lang="SQL" name="plan dc.products lookups per row"
          notify="False">
        SET plan_cache_mode = force_custom_plan
      </script>
      <script type="newSource" lang="python" name="forget previous imports"
          notify="False">
        # Deleting an obs_index row also deletes its GTI rows (foreign key)
        # and its dc.products row (DaCHS's products rule).  Short on purpose:
        # DaCHS compiles this script again for every file.
        from hess_dr import config, importlog, rows, sources
        for path in sources.paths_to_forget(sourceToken, base.getConfig("inputsDir"),
            newly_created=table.newlyCreated,
            imported_paths=lambda: [r[0] for r in table.connection.query(
              "SELECT source_path FROM \schema.obs_index")],
            load_configuration=lambda: config.load(resdir=table.tableDef.rd.resdir),
            notify=base.ui.notifyInfo):
          table.connection.execute(
            "DELETE FROM \schema.obs_index WHERE source_path=%(path)s", {"path": path})
          if sourceToken == sources.PRUNE_TOKEN and importlog.current():
            importlog.current().record_removed(path, base.getConfig("inputsDir"))
        if sourceToken == sources.PRUNE_TOKEN and not table.newlyCreated:
          # files not read again get the configuration's current owners
          # and release rules too (the services decide from what is stored)
          changed = rows.refresh_rights(table.connection,
            config.load(resdir=table.tableDef.rd.resdir), "\schema.obs_index")
          if changed:
            base.ui.notifyInfo(f"hess_dr: owner or release changed for {changed} run(s)")
      </script>
    </make>

    <make table="gti" role="gti">
      <rowmaker idmaps="*">
        <map key="obs_publisher_did">\standardPubDID</map>
      </rowmaker>
    </make>
  </data>

  <!-- DataLink.  hess_dr's services run hess_dr's own DataLink core
  (res/dlcore.py: DataLink 1.1 rows in the dlresponse table below, DALI
  error documents, file names), so DaCHS's DataLink machinery stays as it
  ships for every other resource of the site.  The procedures come from
  prototype datalinkCores (a customCore cannot hold them); res/datalink.py
  does the DaCHS side of the work, the hess_dr package the rest. -->
  <table id="dlresponse">
    <meta name="description">DataLink 1.1 links of hess_dr's datasets
      (DaCHS 2.7's link table with the content qualifier that DataLink 1.1
      added, and service_def as a meta.ref).</meta>
    <column original="//datalink#dlresponse.ID"/>
    <column original="//datalink#dlresponse.access_url"/>
    <column original="//datalink#dlresponse.service_def" ucd="meta.ref"/>
    <column original="//datalink#dlresponse.error_message"/>
    <column original="//datalink#dlresponse.description"/>
    <column original="//datalink#dlresponse.semantics"/>
    <column original="//datalink#dlresponse.content_type"/>
    <column original="//datalink#dlresponse.content_length"/>
    <column name="content_qualifier" type="text" ucd="meta.code.class"
      tablehead="Qualifier" verbLevel="1"
      description="Kind of the linked resource (DataLink 1.1; for event
        lists and IRFs the ObsCore-HEA product types: event-list, aeff,
        edisp, psf, bkgrate, rad_max, event-bundle)"/>
    <column original="//datalink#dlresponse.local_semantics"/>
  </table>

  <data id="make_dlresponse" auto="False">
    <embeddedGrammar>
      <iterator>
        <setup imports="gavo.utils"/>
        <code>
          support = self.grammar.rd.getById("dl").core.support
          for link in self.sourceToken:
            yield support.response_row(link)
        </code>
      </iterator>
    </embeddedGrammar>
    <make table="dlresponse"/>
  </data>

  <STREAM id="eventListDescriptor">
    <descriptorGenerator>
      <code>
        return parent.support.make_descriptor(pubDID)
      </code>
    </descriptorGenerator>
  </STREAM>

  <datalinkCore id="linkProcs">
    <FEED source="eventListDescriptor"/>
    <metaMaker semantics="#this">
      <code>
        yield from self.support.iter_links(descriptor, self.parent)
      </code>
    </metaMaker>
    <metaMaker semantics="#cutout">
      <code>
        yield from self.support.soda_parameters(descriptor)
      </code>
    </metaMaker>
    <dataFunction>
      <code>
        descriptor.data = parent.support.soda_cutout(descriptor, args)
      </code>
    </dataFunction>
  </datalinkCore>

  <datalinkCore id="productProcs">
    <FEED source="eventListDescriptor"/>
    <metaMaker semantics="#this">
      <code>
        yield self.support.product_parameter()
      </code>
    </metaMaker>
    <dataFunction>
      <code>
        descriptor.data = parent.support.derived_product(descriptor, args)
      </code>
    </dataFunction>
  </datalinkCore>

  <service id="dl" allowed="dlget,dlmeta">
    <meta name="title">hess_dr event list DataLink and SODA cutouts</meta>
    <meta name="description">DataLink for the published event lists: the
      file, each instrument response function as its own GADF file, the
      events with their IRFs in one file, previews, the GTIs, the terms of
      use, and server-side cutouts of the event list (SODA): by energy
      (BAND in metres or ENERGY in TeV), time (TIME, MJD UTC) and sky region
      (CIRCLE, POLYGON or POS).  A cutout is a valid GADF event list: only
      the matching events, GTIs cut to the time window, consistent header
      keywords, the IRFs kept, a HISTORY record of the cut.</meta>
    <meta name="testQuery.pubDID"
      >ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/hess_dl3_dr1_obs_id_023523.fits.gz</meta>
    <customCore module="res/dlcore">
      <property key="procs">linkProcs</property>
      <property key="endpointSemantics">#cutout</property>
      <property key="endpointQualifier">event-list</property>
      <property key="checkRequest">check_cutout_request</property>
      <property key="responseFormats"
        >application/x-fits-gadf application/fits fits</property>
    </customCore>
  </service>

  <service id="prod" allowed="dlget">
    <meta name="title">hess_dr derived products</meta>
    <meta name="description">Products derived from an event list on demand:
      one instrument response function as a GADF file (PRODUCT=aeff, edisp,
      psf, bkg, rad_max), events plus every IRF in one file (bundle), a
      counts map (preview-image) and a summary plot (preview-plot) as PNG
      (cached), the good time intervals as a VOTable (gti), the terms of
      use (terms).  The DataLink service links to them.</meta>
    <customCore module="res/dlcore">
      <property key="procs">productProcs</property>
      <property key="checkRequest">check_product_request</property>
    </customCore>
  </service>

  <!-- On-the-fly analyses as UWS jobs (DaCHS's user UWS, run by
  `dachs uwsrun` processes; needs `dachs imp //uws enable_useruws` once per
  site).  res/analysis.py is the DaCHS side (worker system, limits, results),
  hess_dr/analysis.py the analysis.  The ranges below are documentation:
  hess_dr.analysis checks every value (NaN, ranges, EMIN < EMAX) before
  DaCHS parses it. -->
  <!-- DaCHS 2.7 checks the renderer's name (async), whose alias is
  uws.xml: both are allowed; URLs use uws.xml -->
  <service id="analysis" allowed="uws.xml,async">
    <meta name="title">hess_dr point-source analysis jobs</meta>
    <meta name="shortName">hess_dr analysis</meta>
    <meta name="description">Asynchronous (IVOA UWS 1.1) point_source
      analyses of the published event lists, computed next to the data with
      Gammapy: the runs pointed within MAX_OFFSET of the position (and in the
      time range and collection, if given, among those the user may read),
      a 1D spectral analysis of each (reflected-regions background, the safe
      energy range of the run's effective area, PSF containment correction),
      the runs stacked, a spectral model fitted (MODEL: pl, lp, ecpl) and
      flux points.  Results: counts-map.png, spectrum.png,
      flux-points.fits, flux-points.vot, fit.json, analysis.log,
      provenance.json (W3C PROV-JSON), provenance.provn (PROV-N),
      provenance.png, index.html (a page showing them).  Submit with a POST
      of the parameters to uws.xml, start with PHASE=RUN.</meta>
    <customCore module="res/analysis">
      <!-- seconds; maxRunning (jobs executing at a time) defaults to DaCHS's
      [async]maxUserUWSRunningDefault -->
      <property key="defaultExecutionDuration">900</property>
      <property key="maxExecutionDuration">3600</property>
      <property key="reaperInterval">600</property>
      <property key="niceness">10</property>
      <inputTable>
        <inputKey name="ra" type="double precision" unit="deg"
          ucd="pos.eq.ra;meta.main" required="True" multiplicity="forced-single"
          tablehead="RA" description="Right ascension of the source (ICRS)">
          <values min="0" max="360"/>
        </inputKey>
        <inputKey name="dec" type="double precision" unit="deg"
          ucd="pos.eq.dec;meta.main" required="True" multiplicity="forced-single"
          tablehead="Dec" description="Declination of the source (ICRS)">
          <values min="-90" max="90"/>
        </inputKey>
        <inputKey name="radius" type="double precision" unit="deg"
          ucd="phys.angSize;src" multiplicity="forced-single"
          description="Radius of the ON region around the source (default 0.11)">
          <values min="0.01" max="0.5"/>
        </inputKey>
        <inputKey name="emin" type="double precision" unit="TeV"
          ucd="em.energy;stat.min" multiplicity="forced-single"
          description="Lowest reconstructed energy of the analysis (default 0.1;
            the runs' safe energy ranges apply too)">
          <values min="0.01" max="1000"/>
        </inputKey>
        <inputKey name="emax" type="double precision" unit="TeV"
          ucd="em.energy;stat.max" multiplicity="forced-single"
          description="Highest reconstructed energy of the analysis (default
            100; greater than EMIN)">
          <values min="0.01" max="1000"/>
        </inputKey>
        <inputKey name="tmin" type="double precision" unit="d"
          ucd="time.start;obs" multiplicity="forced-single"
          description="Start of the time range, MJD UTC (runs and events
            before it are left out; default none)">
          <values min="30000" max="100000"/>
        </inputKey>
        <inputKey name="tmax" type="double precision" unit="d"
          ucd="time.end;obs" multiplicity="forced-single"
          description="End of the time range, MJD UTC (after TMIN; default
            none)">
          <values min="30000" max="100000"/>
        </inputKey>
        <inputKey name="max_offset" type="double precision" unit="deg"
          ucd="pos.angDistance;instr.fov" multiplicity="forced-single"
          description="Largest distance between a run's pointing and the
            source (default 2)">
          <values min="0.1" max="10"/>
        </inputKey>
        <inputKey name="collection" type="text" ucd="meta.id;meta.dataset"
          multiplicity="forced-single"
          description="Only runs of this collection (ObsCore obs_collection,
            e.g. HESS-DL3-DR1, or hess_dr's collection name; default all)"/>
        <inputKey name="model" type="text" ucd="meta.code;meta.modelled"
          multiplicity="forced-single"
          description="Spectral model: pl (power law, default), lp
            (log-parabola), ecpl (power law with exponential cut-off); all
            with a reference energy of 1 TeV">
          <values>
            <option>pl</option>
            <option>lp</option>
            <option>ecpl</option>
          </values>
        </inputKey>
      </inputTable>
    </customCore>
  </service>

  <!-- ================= Registry records, coverage, search form, import
  report.  Every configured collection becomes a registry record (a
  service made by the LOOP below; `dachs pub hess_dr/q` publishes them),
  with curation from the operator configuration and the coverage the last
  import computed (table coverage).  The search form is the service web;
  the import's feedback is kept in import_runs and import_files.  The
  DaCHS side is res/records.py, the rest hess_dr.coverage, hess_dr.registry,
  hess_dr.search and hess_dr.importlog. -->

  <table id="coverage" onDisk="True" adql="True" primary="collection">
    <meta name="description">
      Coverage of each published collection, computed from its runs at the
      end of every import: what the collection's registry record declares
      (VODataService 1.2).  The spatial coverage is a MOC of the union of
      the runs' fields of view (s_region), the temporal coverage intervals
      holding every run, the spectral coverage the range of event energies.
    </meta>
    <column name="collection" type="text" ucd="meta.id;meta.dataset"
      tablehead="Collection" verbLevel="1" required="True"
      description="Name of the hess_dr collection (operator configuration)"/>
    <column name="obs_collection" type="text" ucd="meta.id"
      verbLevel="1" required="True"
      description="ObsCore collection name of its event lists"/>
    <column name="n_runs" type="integer" ucd="meta.number;obs"
      verbLevel="1" required="True"
      description="Number of published runs (event lists) of the collection"/>
    <column name="spatial_moc" type="text" ucd="pos.outline;obs.field"
      verbLevel="10"
      description="Spatial coverage: ASCII MOC (ICRS) of the union of the
        runs' fields of view (s_region); NULL if no run has a region"/>
    <column name="moc_order" type="smallint" ucd="meta.number;pos.resolution"
      verbLevel="20" required="True"
      description="Largest HEALPix order of the MOC"/>
    <column name="t_intervals" type="text" ucd="time.interval;obs.exposure"
      verbLevel="10"
      description="Temporal coverage: comma-separated pairs of MJD (TT)
        holding every run; runs less than 30 days apart share an interval"/>
    <column name="t_min" type="double precision" unit="d"
      ucd="time.start;obs.exposure" verbLevel="1"
      description="Start of the first run, MJD (TT)"/>
    <column name="t_max" type="double precision" unit="d"
      ucd="time.end;obs.exposure" verbLevel="1"
      description="End of the last run, MJD (TT)"/>
    <column name="energy_min" type="double precision" unit="eV"
      ucd="em.energy;stat.min" verbLevel="1"
      description="Lowest event energy of the collection"/>
    <column name="energy_max" type="double precision" unit="eV"
      ucd="em.energy;stat.max" verbLevel="1"
      description="Highest event energy of the collection"/>
    <column name="spectral_min" type="double precision" unit="J"
      ucd="em.energy;stat.min" verbLevel="20"
      description="energy_min in Joules, as the registry record gives it"/>
    <column name="spectral_max" type="double precision" unit="J"
      ucd="em.energy;stat.max" verbLevel="20"
      description="energy_max in Joules, as the registry record gives it"/>
    <column name="facilities" type="text" ucd="meta.id;instr.tel"
      verbLevel="10"
      description="Facilities of the runs (comma-separated)"/>
    <column name="instruments" type="text" ucd="meta.id;instr"
      verbLevel="10"
      description="Instruments of the runs (comma-separated)"/>
    <column name="fingerprint" type="text" ucd="meta.code"
      verbLevel="30"
      description="SHA-256 (first 32 hex digits) of the runs' dataset ids
        and modification times; the MOC is recomputed when it changes"/>
  </table>

  <!-- made after every `dachs imp hess_dr/q` (import's recreateAfter), or
  alone with `dachs imp hess_dr/q make_coverage` -->
  <data id="make_coverage" auto="False" remakeOnDataChange="True">
    <sources><item>hess_dr:coverage</item></sources>
    <embeddedGrammar>
      <iterator>
        <code>
          records, _ = utils.loadPythonModule(
            self.grammar.rd.getAbsPath("res/records"))
          yield from records.coverage_rows(self.grammar.rd)
        </code>
      </iterator>
    </embeddedGrammar>
    <make table="coverage"/>
  </data>

  <table id="import_runs" onDisk="True" adql="True" primary="import_id">
    <meta name="description">
      One row per import of event lists (`dachs imp hess_dr/q`): when it
      ran and what became of the files it read.  The files it skipped,
      those that are no event lists, those whose rows it removed and the
      problems noted about published files are in hess_dr.import_files.
    </meta>
    <column name="import_id" type="text" ucd="meta.id"
      tablehead="Import" verbLevel="1" required="True"
      description="Identifier of the import (its start, UTC)"/>
    <column name="started" type="timestamp" ucd="time.start;meta.dataset"
      verbLevel="1" description="Start of the import (UTC)"/>
    <column name="finished" type="timestamp" ucd="time.end;meta.dataset"
      verbLevel="1" description="End of the import's reading (UTC)"/>
    <column name="duration" type="double precision" unit="s"
      ucd="time.duration" verbLevel="1"
      description="Seconds from the first file read to the report"/>
    <column name="files_read" type="integer" ucd="meta.number"
      verbLevel="1" required="True"
      description="Files read (new or modified since the previous import)"/>
    <column name="published" type="integer" ucd="meta.number"
      verbLevel="1" required="True"
      description="Files read and published"/>
    <column name="skipped" type="integer" ucd="meta.number"
      verbLevel="1" required="True"
      description="Files read and skipped (broken, or missing what an
        event list needs; reasons in import_files)"/>
    <column name="not_event_lists" type="integer" ucd="meta.number"
      verbLevel="10" required="True"
      description="FITS files read that hold no event list (e.g. IRF files)"/>
    <column name="removed" type="integer" ucd="meta.number"
      verbLevel="10" required="True"
      description="Files whose rows were removed (gone, or below no
        configured data_dir any more)"/>
    <column name="files_with_problems" type="integer" ucd="meta.number"
      verbLevel="10" required="True"
      description="Published files about which problems were noted"/>
    <column name="problems" type="integer" ucd="meta.number"
      verbLevel="10" required="True"
      description="Problems noted about published files"/>
    <column name="runs_published" type="integer" ucd="meta.number"
      verbLevel="1"
      description="Runs published in all after the import">
      <values nullLiteral="-1"/>
    </column>
    <column name="notes_dropped" type="integer" ucd="meta.number"
      verbLevel="30" required="True"
      description="Per-file notes not kept in import_files (beyond the
        first 10,000 of an import)"/>
  </table>

  <table id="import_files" onDisk="True" adql="True">
    <meta name="description">
      The files each import skipped, that hold no event list, whose rows
      it removed, and the problems it noted about published files, with
      the reasons (hess_dr.import_runs has the totals).
    </meta>
    <foreignKey inTable="import_runs" source="import_id"/>
    <index columns="import_id"/>
    <column original="import_runs.import_id"/>
    <column name="file" type="text" ucd="meta.id;meta.file"
      tablehead="File" verbLevel="1" required="True"
      description="The file: collection name and path below its data_dir
        (removed files: as the import saw them)"/>
    <column name="collection" type="text" ucd="meta.id;meta.dataset"
      verbLevel="10"
      description="Collection whose data_dir holds the file"/>
    <column name="kind" type="text" ucd="meta.code"
      verbLevel="1" required="True"
      description="skipped, not an event list, problem (published with a
        caveat), removed"/>
    <column name="reason" type="text" ucd="meta.note"
      verbLevel="1" required="True"
      description="Why (the import's message)"/>
  </table>

  <!-- made after every `dachs imp hess_dr/q` (import's recreateAfter);
  keeps the rows of earlier imports (updating) -->
  <data id="import_report" auto="False" remakeOnDataChange="True"
      updating="True">
    <sources><item>hess_dr:import-report</item></sources>
    <embeddedGrammar isDispatching="True">
      <iterator>
        <code>
          records, _ = utils.loadPythonModule(
            self.grammar.rd.getAbsPath("res/records"))
          yield from records.import_report_rows(self.grammar.rd)
        </code>
      </iterator>
    </embeddedGrammar>
    <make table="import_runs" role="import_runs">
      <!-- the last 50 imports are kept (their files go with them: the
      foreign key of import_files cascades) -->
      <script type="newSource" lang="SQL" name="keep the last imports"
          notify="False">
        DELETE FROM \schema.import_runs WHERE import_id NOT IN (
          SELECT import_id FROM \schema.import_runs ORDER BY started DESC LIMIT 49)
      </script>
    </make>
    <make table="import_files" role="import_files"/>
  </data>

  <service id="imports" allowed="form">
    <meta name="title">hess_dr import report</meta>
    <meta name="shortName">hess_dr imports</meta>
    <meta name="description">What the imports of event lists did: per
      import the files read, published and skipped, and the files skipped,
      removed or published with problems, with the reasons.  Leave the
      fields empty for every file of every import.</meta>
    <meta name="_noresultwarning">No file of this import was skipped,
      removed or published with a problem.</meta>
    <dbCore queriedTable="import_files">
      <condDesc buildFrom="import_id"/>
      <condDesc buildFrom="kind"/>
    </dbCore>
    <outputTable>
      <outputField original="import_files.import_id"/>
      <outputField original="import_files.file"/>
      <outputField original="import_files.kind"/>
      <outputField original="import_files.reason"/>
    </outputTable>
  </service>

  <!-- The search form: runs by position (or a published target name),
  energy, dates, live time, zenith angle, collection and instrument (the
  conditions: hess_dr.search). -->
  <service id="web" allowed="form">
    <meta name="title">Search gamma-ray event lists</meta>
    <meta name="shortName">hess_dr search</meta>
    <meta name="description">Find runs (event lists) by position or target
      name and radius, energy range, dates, live time, zenith angle,
      collection and instrument; each result links to the event list, its
      DataLink page (instrument responses, previews, cutouts) and shows a
      preview of its counts map.  The same runs can be queried through TAP
      (hess_dr.obs_index, ivoa.obscore).</meta>
    <meta name="_intro" format="rst"><![CDATA[
Search the published runs.  Leave a field empty not to constrain it.

* **Position or target**: ICRS coordinates in degrees (``83.633 22.0145``)
  or sexagesimal (``05 34 31.9 +22 00 52``), or the name of a target
  the archive holds (``Crab``, ``PKS 2155-304``); finds the runs pointed
  within the radius of it.
* **Energy**: runs with events in this range (TeV).
* **Dates** (UTC): ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; runs overlapping
  the first to the last day, inclusive.
    ]]></meta>
    <meta name="_noresultwarning">No run matches these constraints.</meta>
    <meta name="_bottominfo" format="rst">
      A run matches when its pointing is within the radius of the
      position, its event energies overlap the energy range, it overlaps
      the dates, its live time is at least the minimum and its mean zenith
      angle at most the maximum.  In ADQL on hess_dr.obs_index: 1=CONTAINS(
      POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', ra, dec, radius)),
      energy_max &gt;= lo*1e12, energy_min &lt;= hi*1e12 (eV), t_max &gt;=
      first day, t_min &lt; day after the last (MJD UTC), livetime, zen_pnt.
    </meta>
    <publish render="form" sets="local"/>
    <template key="form">res/search.html</template>
    <dbCore queriedTable="obs_index" limit="500">
      <condDesc combining="True">
        <inputKey name="pos" type="text" tablehead="Position or target"
          ucd="pos.eq;meta.main" multiplicity="single"
          description="ICRS coordinates (degrees, or sexagesimal RA and Dec)
            or a target name the archive publishes, e.g. Crab"/>
        <inputKey name="radius" type="real" unit="deg"
          tablehead="Radius" ucd="phys.angSize" multiplicity="single"
          description="Runs pointed within this distance of the position
            (degrees, at most 30)">
          <values default="1"/>
        </inputKey>
        <phraseMaker>
          <setup imports="gavo.utils">
            <code>
              records, _ = utils.loadPythonModule(
                base.getConfig("inputsDir") + "/hess_dr/res/records")
            </code>
          </setup>
          <code>
            yield from records.position_sql(inPars, outPars)
          </code>
        </phraseMaker>
      </condDesc>
      <condDesc combining="True">
        <inputKey name="emin" type="real" unit="TeV"
          tablehead="Energy from" ucd="em.energy;stat.min" multiplicity="single"
          description="Runs with events of this energy or more (TeV)"/>
        <inputKey name="emax" type="real" unit="TeV"
          tablehead="Energy to" ucd="em.energy;stat.max" multiplicity="single"
          description="Runs with events of this energy or less (TeV)"/>
        <phraseMaker>
          <setup imports="gavo.utils">
            <code>
              records, _ = utils.loadPythonModule(
                base.getConfig("inputsDir") + "/hess_dr/res/records")
            </code>
          </setup>
          <code>
            yield from records.energy_sql(inPars, outPars)
          </code>
        </phraseMaker>
      </condDesc>
      <condDesc combining="True" joiner="AND">
        <inputKey name="date_from" type="text" tablehead="From date"
          ucd="time.start;obs" multiplicity="single"
          description="First day (UTC): YYYY-MM-DD, YYYY-MM or YYYY"/>
        <inputKey name="date_to" type="text" tablehead="To date"
          ucd="time.end;obs" multiplicity="single"
          description="Last day (UTC), included: YYYY-MM-DD, YYYY-MM or YYYY"/>
        <phraseMaker>
          <setup imports="gavo.utils">
            <code>
              records, _ = utils.loadPythonModule(
                base.getConfig("inputsDir") + "/hess_dr/res/records")
            </code>
          </setup>
          <code>
            yield from records.date_sql(inPars, outPars)
          </code>
        </phraseMaker>
      </condDesc>
      <condDesc>
        <inputKey name="min_livetime" type="real" unit="s"
          tablehead="Minimum live time" ucd="time.duration;obs.exposure"
          multiplicity="single"
          description="Runs with at least this dead-time corrected observing
            time (seconds)"/>
        <phraseMaker>
          <setup imports="gavo.utils">
            <code>
              records, _ = utils.loadPythonModule(
                base.getConfig("inputsDir") + "/hess_dr/res/records")
            </code>
          </setup>
          <code>
            yield from records.minimum_sql(inPars, outPars, "min_livetime",
              "livetime", "minimum live time")
          </code>
        </phraseMaker>
      </condDesc>
      <condDesc>
        <inputKey name="max_zenith" type="real" unit="deg"
          tablehead="Maximum zenith angle" ucd="pos.az.zd;obs.field"
          multiplicity="single"
          description="Runs whose mean zenith angle is at most this (degrees)"/>
        <phraseMaker>
          <setup imports="gavo.utils">
            <code>
              records, _ = utils.loadPythonModule(
                base.getConfig("inputsDir") + "/hess_dr/res/records")
            </code>
          </setup>
          <code>
            yield from records.minimum_sql(inPars, outPars, "max_zenith",
              "zen_pnt", "maximum zenith angle", op="&lt;=", upper=90)
          </code>
        </phraseMaker>
      </condDesc>
      <condDesc>
        <inputKey name="collection" type="text" tablehead="Collection"
          ucd="meta.id;meta.dataset" multiplicity="single"
          description="Only runs of this collection">
          <values>
            <LOOP>
              <codeItems>
                records, _ = utils.loadPythonModule(
                  base.getConfig("inputsDir") + "/hess_dr/res/records")
                for value in records.published_values("obs_collection"):
                  yield {"value": value}
              </codeItems>
              <events><option>\value</option></events>
            </LOOP>
          </values>
        </inputKey>
        <phraseMaker>
          <code>
            yield "obs_collection = %%(%s)s" % base.getSQLKey(
              "collection", inPars["collection"], outPars)
          </code>
        </phraseMaker>
      </condDesc>
      <condDesc>
        <inputKey name="instrument" type="text" tablehead="Instrument"
          ucd="meta.id;instr" multiplicity="single"
          description="Only runs of this instrument">
          <values>
            <LOOP>
              <codeItems>
                records, _ = utils.loadPythonModule(
                  base.getConfig("inputsDir") + "/hess_dr/res/records")
                for value in records.published_values("instrume"):
                  yield {"value": value}
              </codeItems>
              <events><option>\value</option></events>
            </LOOP>
          </values>
        </inputKey>
        <phraseMaker>
          <code>
            yield "instrume = %%(%s)s" % base.getSQLKey(
              "instrument", inPars["instrument"], outPars)
          </code>
        </phraseMaker>
      </condDesc>
      <!-- the core's output table: what the form shows and what it offers
      to add (never source_path or the other columns of obs_index) -->
      <outputTable>
        <outputField original="obs_index.obs_id" tablehead="Run"/>
        <outputField original="obs_index.target_name" tablehead="Target"/>
        <outputField original="obs_index.t_min" tablehead="Start (UTC)">
          <formatter>
            from hess_dr import search
            return search.mjd_to_iso(data)
          </formatter>
        </outputField>
        <outputField original="obs_index.livetime" tablehead="Live time">
          <formatter>
            return "" if data is None else "%.0f" % data
          </formatter>
        </outputField>
        <outputField name="energy_range" type="double precision[2]" unit="TeV"
            select="array[energy_min/1e12, energy_max/1e12]"
            tablehead="Energies" ucd="em.energy" verbLevel="1"
            description="Lowest and highest event energy of the run">
          <formatter>
            from hess_dr import search
            if data is None:
              return ""
            return search.energy_range_tev(data[0] * 1e12, data[1] * 1e12, unit="")
          </formatter>
        </outputField>
        <outputField original="obs_index.zen_pnt" tablehead="Zenith">
          <formatter>
            return "" if data is None else "%.1f" % data
          </formatter>
        </outputField>
        <outputField original="obs_index.event_count" tablehead="Events"/>
        <outputField original="obs_index.accref" tablehead="File"
            verbLevel="1">
          <formatter>
            from gavo.protocols import products
            return T.a(href=products.makeProductLink(data), class_="hessdr-file")["file"]
          </formatter>
        </outputField>
        <outputField original="obs_index.obs_publisher_did" tablehead="DataLink">
          <formatter>
            import urllib.parse
            return T.a(href=base.makeAbsoluteURL("/hess_dr/q/dl/dlmeta?ID="
              + urllib.parse.quote(data, safe="")), class_="hessdr-datalink",
              title=data)["DataLink"]
          </formatter>
        </outputField>
        <!-- NULL for proprietary runs (hess_dr.access.is_public): their
        previews would answer a browser with a login prompt per image -->
        <outputField name="preview" type="text" select="CASE WHEN owner IS NULL
              OR obs_release_date &lt;= (now() AT TIME ZONE 'UTC')
            THEN obs_publisher_did END"
            tablehead="Preview" ucd="meta.ref.url;meta.preview" verbLevel="1"
            description="Counts map of the run (PNG, from the products service;
              none for proprietary runs)">
          <formatter>
            import urllib.parse
            if data is None:
              return T.span(class_="hessdr-proprietary")["proprietary"]
            url = base.makeAbsoluteURL("/hess_dr/q/prod/dlget?PRODUCT=preview-image&amp;ID="
              + urllib.parse.quote(data, safe=""))
            # loaded one after another by the page's script (res/search.html);
            # until then a transparent pixel on a grey box
            return T.a(href=url)[T.img(**{"data-src": url, "class": "hessdr-preview",
              "alt": "counts map", "width": "96", "height": "96",
              "src": "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"})]
          </formatter>
        </outputField>
      </outputTable>
    </dbCore>
  </service>

  <!-- One registry record per configured collection (hess_dr.registry):
  capabilities of the search form (with the collection chosen), DataLink
  and SODA (the dl service) and TAP; the tableset names the TAP tables
  holding the collection (res/collection.py); the coverage is the last
  import's (table coverage above). -->
  <LOOP>
    <codeItems>
      records, _ = utils.loadPythonModule(
        base.getConfig("inputsDir") + "/hess_dr/res/records")
      yield from records.collection_items(base.getConfig("inputsDir") + "/hess_dr")
    </codeItems>
    <events>
      <service id="\id" allowed="external">
        <meta name="resType">catalogService</meta>
        <meta name="title">\title</meta>
        <meta name="shortName">\shortName</meta>
        <meta name="description">\description</meta>
        <meta name="rights">\rights</meta>
        <meta>\metaStream</meta>
        <customCore module="res/collection"/>
        <!-- the search form with this collection chosen; "external" (a
        redirect from /hess_dr/q/<id>/external) rather than the web
        service's own form publication, whose URL DaCHS keeps once in its
        list of interfaces (dc.interfaces) -->
        <publish render="external" sets="ivo_managed,local">
          <meta name="accessURL">\formURL</meta>
          <meta name="description">Search form for the runs of this
            collection (position or target name, energy, dates, live time,
            zenith angle), with links to each run's file, DataLink page and
            preview.</meta>
        </publish>
        <publish render="dlmeta" sets="ivo_managed" service="dl"/>
        <publish render="dlget" sets="ivo_managed" service="dl"/>
        <publish render="dali" sets="ivo_managed" service="//tap#run"
          auxiliary="True"/>
      </service>
    </events>
  </LOOP>

  <!-- The pinned runs are in the bundled sample and in the full DR1, so the
  suite passes on both. -->
  <regSuite title="hess_dr regression tests" sequential="True">
    <regTest title="ObsCore lists the bundled sample">
      <url parSet="TAP" QUERY="SELECT o.obs_id, dataproduct_type, o.calib_level,
        o.target_name, o.t_min, o.t_max, t_exptime, o.em_min, o.em_max, o.s_ra, o.s_dec,
        access_estsize, access_format, o_ucd, preview,
        i.target_name AS curated_name, i.object
        FROM ivoa.obscore AS o JOIN hess_dr.obs_index AS i
          ON o.obs_publisher_did = i.obs_publisher_did
        WHERE o.obs_collection='HESS-DL3-DR1'
          AND o.obs_id IN ('20136', '23523', '23526')
        ORDER BY o.obs_id"
        >/tap/sync</url>
      <code>
        rows = self.getVOTableRows()
        self.assertEqual([r["obs_id"] for r in rows], ["20136", "23523", "23526"])
        self.assertEqual({r["dataproduct_type"] for r in rows}, {"event"})
        self.assertEqual({r["calib_level"] for r in rows}, {2})
        self.assertEqual({r["o_ucd"] for r in rows}, {"phot.count"})
        self.assertEqual({r["access_format"] for r in rows},
          {"application/x-fits-gadf"})
        crab = rows[1]
        # the curated name (obs-index TARGET_NAME: "Crab" in the full DR1;
        # the bundled sample has no obs-index: OBJECT "Crab Nebula")
        self.assertEqual(crab["target_name"], crab["curated_name"])
        self.assertEqual(crab["object"], "Crab Nebula")
        # TSTART 123890826 s TT after MJDREF = 2004-12-04T22:07:06 UTC
        self.assertAlmostEqual(crab["t_min"], 53343.92159722222, places=9)
        self.assertAlmostEqual(crab["t_max"], 53343.94112268519, places=9)
        self.assertAlmostEqual(crab["t_exptime"], 1581.73681640625, places=5)
        # hc / 100.978 TeV and hc / 0.244085 TeV, as float4
        self.assertAlmostEqual(crab["em_min"]/1.2278321e-20, 1, places=6)
        self.assertAlmostEqual(crab["em_max"]/5.0795588e-18, 1, places=6)
        self.assertAlmostEqual(crab["s_ra"], 83.633333333333, places=9)
        self.assertAlmostEqual(crab["s_dec"], 21.514444444444, places=9)
        self.assertEqual(crab["access_estsize"], 510)
        # preview: the run's counts map, from the products service
        import urllib.request
        self.assertTrue("/hess_dr/q/prod/dlget?PRODUCT=preview-image&amp;ID=" in crab["preview"])
        with urllib.request.urlopen(crab["preview"]) as response:
          self.assertEqual(response.headers["content-type"], "image/png")
          self.assertEqual(response.read()[1:4], b"PNG")
      </code>
    </regTest>

    <regTest title="Event lists are not pixelised: every *_xel is -1">
      <url parSet="TAP" QUERY="SELECT COUNT(*) AS n FROM ivoa.obscore
        WHERE obs_collection='HESS-DL3-DR1' AND obs_id IN ('20136', '23526')
        AND s_xel1=-1 AND s_xel2=-1 AND t_xel=-1 AND em_xel=-1 AND pol_xel=-1"
        >/tap/sync</url>
      <code>
        self.assertEqual(self.getVOTableRows()[0]["n"], 2)
      </code>
    </regTest>

    <regTest title="ObsCore-HEA joins ObsCore with event counts and energies in eV">
      <url parSet="TAP" QUERY="SELECT o.obs_id, h.ev_xel, h.energy_min,
        h.energy_max, h.t_intervals, h.obs_mode, h.tracking_mode, h.scan_mode,
        h.pointing_mode, h.analysis_mode, h.event_type, h.messenger_name,
        h.s_ref_energy
        FROM ivoa.obscore AS o JOIN ivoa.obscore_hea AS h
        ON o.obs_publisher_did=h.obs_publisher_did
        WHERE o.obs_id IN ('20136', '23523', '23526') ORDER BY o.obs_id"
        >/tap/sync</url>
      <code>
        rows = self.getVOTableRows()
        self.assertEqual([r["ev_xel"] for r in rows], [11243, 7613, 7581])
        crab = rows[1]
        self.assertAlmostEqual(crab["energy_min"]/2.44084581732e11, 1, places=9)
        self.assertAlmostEqual(crab["energy_max"]/1.00978134155e14, 1, places=9)
        self.assertEqual(crab["t_intervals"],
          "t61/211968958090183208-211968959777183207")
        self.assertEqual(
          (crab["obs_mode"], crab["tracking_mode"], crab["scan_mode"],
            crab["pointing_mode"], crab["analysis_mode"], crab["event_type"],
            crab["messenger_name"]),
          ("WOBBLE", "sidereal", "on-source", "parallel", "full-enclosure",
            "std", "photon"))
        self.assertEqual(crab["s_ref_energy"], 1e12)
      </code>
    </regTest>

    <regTest title="GTI table finds the run covering an instant">
      <url parSet="TAP" QUERY="SELECT obs_id, met_start, met_stop, duration
        FROM hess_dr.gti WHERE t_start &lt;= 53343.93 AND t_stop &gt;= 53343.93"
        >/tap/sync</url>
      <code>
        rows = self.getVOTableRows()
        self.assertEqual(len(rows), 1)
        self.assertEqual(
          (rows[0]["obs_id"], rows[0]["met_start"], rows[0]["met_stop"],
            rows[0]["duration"]),
          ("23523", 123890826.0, 123892513.0, 1687.0))
      </code>
    </regTest>

    <regTest title="GADF observation metadata in lowercase obs-index columns">
      <url parSet="TAP" QUERY="SELECT obs_id, zen_pnt, n_tels, tellist,
        event_count, safe_energy_lo, date_obs, time_obs, timesys
        FROM hess_dr.obs_index WHERE obs_id='23523'">/tap/sync</url>
      <code>
        row = self.getVOTableRows()[0]
        # header: 90 - ALT_PNT; full DR1: obs-index ZEN_PNT (float32)
        self.assertAlmostEqual(row["zen_pnt"], 48.610, places=2)
        self.assertEqual((row["n_tels"], row["tellist"], row["event_count"]),
          (4, "1,2,3,4", 7613))
        self.assertAlmostEqual(row["safe_energy_lo"], 0.8709636, places=5)
        self.assertEqual((row["date_obs"], row["time_obs"], row["timesys"]),
          ("2004-12-04", "22:08:10.184", "TT"))
      </code>
    </regTest>

    <regTest title="access_url downloads the event list">
      <url parSet="TAP" QUERY="SELECT access_url FROM ivoa.obscore
        WHERE obs_collection='HESS-DL3-DR1' AND obs_id='23523'"
        >/tap/sync</url>
      <code>
        import urllib.request
        url = self.getVOTableRows()[0]["access_url"]
        with urllib.request.urlopen(url) as response:
          self.assertEqual(len(response.read()), 522418)
      </code>
    </regTest>

    <!-- The DataLink tests look the pubDID of run 23523 up first, since it
    depends on the data folder layout and the authority of the instance. -->
    <regTest title="DataLink lists every link of run 23523 with its qualifier">
      <url parSet="TAP" QUERY="SELECT obs_publisher_did, access_url
        FROM ivoa.obscore WHERE obs_id='23523'">/tap/sync</url>
      <code>
        import io, urllib.parse, urllib.request
        from astropy.io.votable import parse_single_table
        row = self.getVOTableRows()[0]
        server = row["access_url"].split("/getproduct/")[0]
        did = urllib.parse.quote(row["obs_publisher_did"])
        with urllib.request.urlopen(f"{server}/hess_dr/q/dl/dlmeta?ID={did}") as f:
          self.assertEqual(f.headers["content-type"],
            "application/x-votable+xml;content=datalink")
          links = parse_single_table(io.BytesIO(f.read())).to_table()
        self.assertEqual(
          [(str(r["semantics"]), str(r["content_qualifier"] or ""))
            for r in links],
          [("#this", "event-list"), ("#calibration", "aeff"),
            ("#calibration", "edisp"), ("#calibration", "psf"),
            ("#calibration", "bkgrate"), ("#package", "event-bundle"),
            ("#preview-image", ""), ("#preview-plot", ""),
            ("#auxiliary", "gti"), ("#documentation", "terms-of-use"),
            ("#documentation", ""), ("#provenance", ""),
            ("#cutout", "event-list")])
        self.assertEqual(links[0]["content_length"], 522418)
        # every link into this service answers (the release's web page is
        # outside and, in tests, offline)
        for link in links:
          if str(link["access_url"]).startswith(server):
            with urllib.request.urlopen(str(link["access_url"])) as f:
              self.assertEqual(f.headers["content-type"],
                str(link["content_type"]))
              self.assertTrue(len(f.read()) > 100, link["semantics"])
      </code>
    </regTest>

    <regTest title="Each IRF link is a single-IRF GADF file">
      <url parSet="TAP" QUERY="SELECT obs_publisher_did, access_url
        FROM ivoa.obscore WHERE obs_id='23523'">/tap/sync</url>
      <code>
        import io, urllib.parse, urllib.request
        from astropy.io import fits
        row = self.getVOTableRows()[0]
        server = row["access_url"].split("/getproduct/")[0]
        did = urllib.parse.quote(row["obs_publisher_did"])
        for product, extname, hduclas2 in [("aeff", "AEFF", "EFF_AREA"),
            ("edisp", "EDISP", "EDISP"), ("psf", "PSF", "RPSF"),
            ("bkg", "BKG", "BKG")]:
          url = f"{server}/hess_dr/q/prod/dlget?ID={did}&amp;PRODUCT={product}"
          with urllib.request.urlopen(url) as f:
            hdus = fits.open(io.BytesIO(f.read()))
          self.assertEqual(len(hdus), 2)
          self.assertEqual(hdus[1].name, extname)
          self.assertEqual(hdus[1].header["HDUCLAS2"], hduclas2)
      </code>
    </regTest>

    <regTest title="SODA cutout of run 23523: 1 to 10 TeV within 0.3 deg of the Crab">
      <url parSet="TAP" QUERY="SELECT obs_publisher_did, access_url
        FROM ivoa.obscore WHERE obs_id='23523'">/tap/sync</url>
      <code>
        import io, urllib.parse, urllib.request
        from astropy.io import fits
        row = self.getVOTableRows()[0]
        server = row["access_url"].split("/getproduct/")[0]
        query = urllib.parse.urlencode({"ID": row["obs_publisher_did"],
          "ENERGY": "1 10", "POS": "CIRCLE 83.633 22.0145 0.3"})
        with urllib.request.urlopen(f"{server}/hess_dr/q/dl/dlget?{query}") as f:
          self.assertEqual(f.headers["content-type"], "application/x-fits-gadf")
          hdus = fits.open(io.BytesIO(f.read()))
        self.assertEqual(len(hdus["EVENTS"].data), 186)
        self.assertEqual(hdus["EVENTS"].header["ONTIME"], 1687.0)
        self.assertEqual([h.name for h in hdus][1:],
          ["EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"])
      </code>
    </regTest>

    <regTest title="A bad cutout parameter gets a DALI error">
      <url parSet="TAP" QUERY="SELECT obs_publisher_did, access_url
        FROM ivoa.obscore WHERE obs_id='23523'">/tap/sync</url>
      <code>
        import urllib.error, urllib.parse, urllib.request
        row = self.getVOTableRows()[0]
        server = row["access_url"].split("/getproduct/")[0]
        query = urllib.parse.urlencode({"ID": row["obs_publisher_did"],
          "ENERGY": "10 1"})
        try:
          urllib.request.urlopen(f"{server}/hess_dr/q/dl/dlget?{query}")
          self.fail("inverted ENERGY interval accepted")
        except urllib.error.HTTPError as error:
          self.assertEqual(error.code, 400)
          self.assertTrue(b'value="ERROR"' in error.read())
      </code>
    </regTest>
  </regSuite>
</resource>
