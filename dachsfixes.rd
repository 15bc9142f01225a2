<resource schema="dc" resdir="hess_dr">
  <meta name="creationDate">2026-12-02T12:00:00Z</meta>
  <meta name="title">hess_dr: opt-in fixes to DaCHS 2.7</meta>
  <meta name="description">
    Nothing of hess_dr needs this RD.  An operator who preloads it
    ([web]preloadRDs: hess_dr/q, hess_dr/dachsfixes) gets fixes to DaCHS
    2.7 itself, applied only on DaCHS 2.7 and only where DaCHS's code is
    the one they were written for (see res/dachsfixes.py): one PostgreSQL
    session per ADQL query with table aliases instead of four (every TAP
    query of the site), 400s instead of 500s for non-UTF-8 arguments to
    hess_dr's DataLink services, DataLink 1.1 and the SODA descriptor in
    TAP results of hess_dr's tables, DataLink 1.1 (not 1.0) declared in
    the registry records of hess_dr's collections, and 403 (not a new login
    challenge) from /getproduct for a logged-in user outside the owner
    group of a hess_dr file.
  </meta>
  <meta name="subject">virtual-observatories</meta>
  <LOOP>
    <codeItems>
      # the resdir declared above, as DaCHS resolves it
      fixes, _ = utils.loadPythonModule(base.getConfig("inputsDir")
        + "/hess_dr/res/dachsfixes")
      fixes.install()
      return
      yield
    </codeItems>
    <events/>
  </LOOP>
</resource>
