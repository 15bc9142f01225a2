<!-- hess_dr's TAP examples (DALI examples, shown at /tap/examples).

DaCHS's TAP service takes its examples from the site's etc/userconfig.rd
(STREAM tapexamples); a site publishing hess_dr feeds this RD's stream
into it:

  <STREAM id="tapexamples">
    <FEED source="hess_dr/examples#tapexamples"/>
  </STREAM>

(the demo and test instances write exactly that; see README, "TAP
examples").  Every query below runs and returns rows on the H.E.S.S. DL3
DR1 (tests/integration/test_tap_examples.py). -->
<resource schema="hess_dr" resdir="hess_dr">
  <meta name="creationDate">2026-12-02T12:00:00Z</meta>
  <meta name="title">hess_dr: TAP examples</meta>
  <meta name="description">
    Example ADQL queries on gamma-ray event lists (ivoa.obscore,
    ivoa.obscore_hea, hess_dr.obs_index, hess_dr.gti, hess_dr.coverage),
    fed into the site's TAP service as DALI examples.
  </meta>
  <meta name="subject">gamma-ray-astronomy</meta>

  <STREAM id="tapexamples">
    <meta name="_example" title="Event lists covering a source"><![CDATA[
Event lists whose field of view contains a position, here the Crab
nebula, from :taptable:`ivoa.obscore`: ``s_region`` is the field of view of
each run (a polygon inscribed in the circle of ``s_fov``), ``t_exptime``
its live time (s), ``access_url`` downloads the event list and
``obs_publisher_did`` is the DataLink ID (IRFs, previews, cutouts).

.. tapquery::

  SELECT obs_id, target_name, t_min, t_exptime, s_ra, s_dec,
    obs_publisher_did, access_url
  FROM ivoa.obscore
  WHERE dataproduct_type = 'event'
    AND 1 = CONTAINS(POINT('ICRS', 83.633, 22.0145), s_region)
  ORDER BY t_min
    ]]></meta>

    <meta name="_example" title="Live time on a source per year"><![CDATA[
Hours of live time and number of runs per year for the runs pointed
within 1.5 degrees of PKS 2155-304, from :taptable:`hess_dr.obs_index`
(``livetime`` in seconds, ``t_min`` the start as MJD UTC; the year is
computed from MJD 51544.5 = 2000-01-01T12:00).

.. tapquery::

  SELECT FLOOR(2000 + (t_min - 51544.5) / 365.25) AS obs_year,
    COUNT(*) AS runs, SUM(livetime) / 3600 AS livetime_h
  FROM hess_dr.obs_index
  WHERE 1 = CONTAINS(POINT('ICRS', ra_pnt, dec_pnt),
    CIRCLE('ICRS', 329.7169, -30.2256, 1.5))
  GROUP BY obs_year
  ORDER BY obs_year
    ]]></meta>

    <meta name="_example" title="Which data may be downloaded today"><![CDATA[
Metadata are public; the data of a proprietary run only for the members
of its owner group until its release.  :taptable:`ivoa.obscore_hea` says
which runs anyone may download now (``data_rights``, evaluated when the
query runs) and from when (``obs_release_date``, NULL for runs public
from the start); :taptable:`hess_dr.obs_index` names the ``owner`` group.

.. tapquery::

  SELECT h.data_rights, COUNT(*) AS runs, MIN(h.obs_release_date) AS first_release,
    MAX(o.t_exptime) / 3600 AS longest_run_h
  FROM ivoa.obscore AS o JOIN ivoa.obscore_hea AS h
    ON o.obs_publisher_did = h.obs_publisher_did
  GROUP BY h.data_rights
    ]]></meta>

    <meta name="_example" title="Runs with good time at an instant"><![CDATA[
Which run was taking good data at a given moment (MJD UTC), from the
good time intervals in :taptable:`hess_dr.gti` (``t_start``, ``t_stop`` in
MJD UTC like ObsCore's ``t_min``, ``t_max``; ``met_start``, ``met_stop`` in
the file's mission elapsed time), joined with the run's metadata in
:taptable:`hess_dr.obs_index`.

.. tapquery::

  SELECT g.obs_id, g.gti_index, g.t_start, g.t_stop, g.met_start,
    g.met_stop, o.target_name, o.livetime
  FROM hess_dr.gti AS g
  JOIN hess_dr.obs_index AS o ON g.obs_publisher_did = o.obs_publisher_did
  WHERE g.t_start <= 53343.93 AND g.t_stop >= 53343.93
    ]]></meta>

    <meta name="_example" title="Runs with events above an energy"><![CDATA[
Runs with reconstructed events above 100 TeV.  ObsCore's ``em_min`` is
the shortest *wavelength* (m), from the highest energy: E > 100 TeV is
em_min < hc / 100 TeV = 1.2398e-20 m.  :taptable:`ivoa.obscore_hea` gives
the event energies in eV directly (``energy_min``, ``energy_max``) and the
number of events (``ev_xel``).

.. tapquery::

  SELECT o.obs_id, o.target_name, o.em_min, h.energy_max / 1e12 AS emax_tev,
    h.ev_xel
  FROM ivoa.obscore AS o
  JOIN ivoa.obscore_hea AS h ON o.obs_publisher_did = h.obs_publisher_did
  WHERE o.em_min < 1.2398e-20
  ORDER BY emax_tev DESC
    ]]></meta>

    <meta name="_example" title="ObsCore, its high-energy extension and GADF metadata together"><![CDATA[
One row per run of a source with what the three tables say about it:
:taptable:`ivoa.obscore` (times, live time, PSF size), :taptable:`ivoa.obscore_hea`
(events, energy range in eV, observing modes, IRF kind) and
:taptable:`hess_dr.obs_index` (pointing zenith angle, telescopes, safe
energy range of the IRFs in TeV), all joined on ``obs_publisher_did``.

.. tapquery::

  SELECT o.obs_id, o.t_min, o.t_exptime, o.s_resolution, h.ev_xel,
    h.energy_min, h.energy_max, h.obs_mode, h.analysis_mode,
    i.zen_pnt, i.n_tels, i.safe_energy_lo, i.safe_energy_hi
  FROM ivoa.obscore AS o
  JOIN ivoa.obscore_hea AS h ON o.obs_publisher_did = h.obs_publisher_did
  JOIN hess_dr.obs_index AS i ON o.obs_publisher_did = i.obs_publisher_did
  WHERE 1 = CONTAINS(POINT('ICRS', 228.5290, -59.1575), o.s_region)
  ORDER BY t_min
    ]]></meta>

    <meta name="_example" title="Zenith-angle and live-time cuts"><![CDATA[
Runs for a spectral analysis at low energies: pointed within 2 degrees of
RX J1713.7-3946, at a mean zenith angle below 30 degrees, with at least
25 minutes of live time and a safe energy threshold below 0.5 TeV, from
:taptable:`hess_dr.obs_index` (``zen_pnt``, ``livetime``, ``safe_energy_lo``).

.. tapquery::

  SELECT obs_id, zen_pnt, livetime, safe_energy_lo, ra_pnt, dec_pnt
  FROM hess_dr.obs_index
  WHERE 1 = CONTAINS(POINT('ICRS', ra_pnt, dec_pnt),
      CIRCLE('ICRS', 258.1125, -39.6867, 2))
    AND zen_pnt < 30 AND livetime >= 1500 AND safe_energy_lo < 0.5
  ORDER BY zen_pnt
    ]]></meta>

    <meta name="_example" title="Good time interval statistics"><![CDATA[
Per target: runs, good time intervals, good time (the sum of the GTI
lengths, s) and live time (dead-time corrected) from
:taptable:`hess_dr.gti` and :taptable:`hess_dr.obs_index`.

.. tapquery::

  SELECT o.target_name, COUNT(DISTINCT o.obs_id) AS runs,
    COUNT(*) AS intervals, SUM(g.duration) AS good_time,
    SUM(g.duration * o.deadc) AS livetime_from_gti
  FROM hess_dr.gti AS g
  JOIN hess_dr.obs_index AS o ON g.obs_publisher_did = o.obs_publisher_did
  GROUP BY o.target_name
  ORDER BY good_time DESC
    ]]></meta>

    <meta name="_example" title="Runs in a time window, with their T-MOCs"><![CDATA[
Runs overlapping a time window (MJD UTC, here 4 to 9 December 2004), with
their good time intervals as a time MOC (``t_intervals`` of
:taptable:`ivoa.obscore_hea`: ASCII T-MOC, MOC 2.0, order 61 =
microseconds since JD 0 in TDB; mocpy's ``TimeMOC.from_string`` reads it)
to intersect with other time coverages on the client.

.. tapquery::

  SELECT o.obs_id, o.target_name, o.t_min, o.t_max, h.t_intervals
  FROM ivoa.obscore AS o
  JOIN ivoa.obscore_hea AS h ON o.obs_publisher_did = h.obs_publisher_did
  WHERE o.t_min < 53348 AND o.t_max > 53343
  ORDER BY t_min
    ]]></meta>

    <meta name="_example" title="What each collection covers"><![CDATA[
The coverage of every published collection as its registry record
declares it, from :taptable:`hess_dr.coverage`: number of runs, time span
(MJD TT), energies (eV) and the spatial MOC (ASCII, ICRS) of the union of
the fields of view.

.. tapquery::

  SELECT collection, obs_collection, n_runs, t_min, t_max, energy_min,
    energy_max, facilities, instruments, spatial_moc
  FROM hess_dr.coverage
    ]]></meta>

    <meta name="_example" title="Observing time per collection, facility and instrument"><![CDATA[
Event lists, events and hours of live time per collection and instrument
in :taptable:`ivoa.obscore` and :taptable:`ivoa.obscore_hea`.

.. tapquery::

  SELECT o.obs_collection, o.facility_name, o.instrument_name,
    COUNT(*) AS runs, SUM(h.ev_xel) AS events, SUM(o.t_exptime) / 3600 AS hours
  FROM ivoa.obscore AS o
  JOIN ivoa.obscore_hea AS h ON o.obs_publisher_did = h.obs_publisher_did
  WHERE o.dataproduct_type = 'event'
  GROUP BY o.obs_collection, o.facility_name, o.instrument_name
    ]]></meta>
  </STREAM>
</resource>
