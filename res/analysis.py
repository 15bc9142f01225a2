"""DaCHS side of hess_dr's analysis jobs: the ``analysis`` service of q.rd.

The service (``allowed="uws.xml"``) runs this module's :class:`Core`
(``<customCore module="res/analysis">``).  DaCHS's user-UWS machinery does
the UWS protocol: the job list, job creation, phases, parameters,
results, ``executionduration`` and ``destruction``; each job runs in a
process of its own (``dachs uwsrun <jobId>``, spawned by the server),
which calls :meth:`Core.run`.  The analysis itself is
:mod:`hess_dr.analysis` (pure, testable without DaCHS); here only what
needs DaCHS: the worker system, the database, the job's directory.

What hess_dr's worker system (:class:`AnalysisUWS`, a subclass of DaCHS's
``UserUWS`` used by this service only) adds to DaCHS's:

* **parameters checked before DaCHS parses them** (``RA=NaN`` would
  become a missing value, ranges are not checked by DaCHS): a bad value
  refuses the job creation with a DALI error (HTTP 400), a job queued
  without RA/DEC goes to ERROR with the reason;
* **limits**: at most ``maxRunning`` jobs execute at a time (property,
  default DaCHS's ``[async]maxUserUWSRunningDefault``), others wait in
  QUEUED; a job's ``executionDuration`` defaults to the property
  ``defaultExecutionDuration`` and can be set up to
  ``maxExecutionDuration`` (larger requests are lowered to it, as UWS
  allows); a job running longer is aborted (phase ABORTED, with the
  reason); an ABORT of an executing job ends it in ABORTED (DaCHS's
  runner would report ERROR); when a job ends the queue is looked at at
  once (DaCHS waits for its next minute);
* **job list**: anonymous users see the jobs without an owner, an
  authenticated user their own (DaCHS lists every job id to anyone);
* **its own jobs only**: the queue (what starts next, which executing
  jobs died) and the reaper look at this service's jobs in DaCHS's shared
  user-UWS table, never at other services';
* **destruction**: this service's jobs are deleted within
  ``reaperInterval`` seconds of their destruction time (DaCHS's reaper
  runs every 12 hours); other services' jobs are left to their own UWS.

Job processes run with a lower CPU priority (property ``niceness``, from
their start: ``nice -n``) and single-threaded numerical libraries, so that
the server's own requests come first on a busy machine.
"""
from __future__ import annotations

import datetime
import os
import re
import shutil
import signal
import sys
import time
import traceback

_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _RESDIR not in sys.path:  # a checkout without an installed hess_dr
    sys.path.insert(0, _RESDIR)

from twisted.internet import reactor  # noqa: E402

from gavo import base, svcs  # noqa: E402
from gavo.protocols import uws, uwsactions, useruws  # noqa: E402
from gavo.svcs import core  # noqa: E402

from hess_dr import analysis  # noqa: E402

JOB_NAME = "point_source"

#: Defaults of the core's properties (seconds, jobs).
DEFAULTS = {"defaultExecutionDuration": 900, "maxExecutionDuration": 3600,
            "reaperInterval": 600, "niceness": 10}


class JobTimeout(BaseException):
    """The job ran longer than its execution duration (a BaseException, so
    that no ``except Exception`` in the analysis swallows it)."""


class JobAborted(BaseException):
    """The UWS client aborted the executing job (DaCHS sends SIGINT)."""


# ----------------------------------------------------------- worker system

class _CheckedParameters:
    """DaCHS's context grammar for the job parameters, preceded by
    hess_dr's check of the raw values (:func:`hess_dr.analysis.
    check_parameters`).  DaCHS's grammar parses what passes."""

    def __init__(self, grammar):
        self.grammar = grammar

    def parseStrargs(self, strargs, ensureRequired=True):  # noqa: N802 (DaCHS's name)
        try:
            values = analysis.check_parameters(strargs)
        except analysis.ParameterError as exc:
            raise base.ValidationError(str(exc), (exc.parameter or "RA").lower()) from None
        strargs = dict(strargs)
        for key in list(strargs):
            if key.upper() == "MODEL" and values.get("MODEL"):
                strargs[key] = [values["MODEL"]]  # accepted in any case
        return self.grammar.parseStrargs(strargs, ensureRequired=ensureRequired)

    def __getattr__(self, name):
        return getattr(self.grammar, name)


class _ExecutionDurationAction(uwsactions.ExecDAction):
    """``executionduration`` of hess_dr's jobs: at most the service's
    maximum (UWS lets a service lower a requested value); 0 or a negative
    value (unlimited) also becomes the maximum."""

    def doPOST(self, job, request):  # noqa: N802
        raw = request.uwsArgs.get(self.name.lower())
        if raw is not None:
            try:
                value = float(raw)
            except ValueError:
                raise uws.UWSError(f"Invalid EXECUTIONDURATION value: {raw[:40]!r}.",
                                   job.jobId) from None
            limit = job.uws.max_duration
            if not value == value or value <= 0 or value > limit:  # NaN too
                request.uwsArgs[self.name.lower()] = str(limit)
            else:
                request.uwsArgs[self.name.lower()] = str(int(value))
        return super().doPOST(job, request)


class _EndedProtocol(uws._UWSBackendProtocol):
    """DaCHS's protocol for a job process, plus a look at the queue as soon
    as the process ended."""

    def processEnded(self, statusObject):  # noqa: N802
        super().processEnded(statusObject)
        try:
            self.workerSystem.scheduleProcessQueueCheck()
            self.workerSystem.checkProcessQueue()
        except Exception as exc:  # the minute-cron catches up
            base.ui.notifyError(f"hess_dr analysis: queue check failed: {exc}")


class AnalysisTransitions(useruws.UserUWSTransitions):
    """DaCHS's user-UWS transitions with the parameters checked when a job
    is queued and the queue looked at when a job process ends."""

    def queueJob(self, newState, wjob, ignored):  # noqa: N802
        try:
            analysis.parse_parameters(wjob.parameters)
        except analysis.ParameterError as exc:
            raise base.ValidationError(str(exc), (exc.parameter or "RA").lower()) from None
        super().queueJob(newState, wjob, ignored)

    def _startJobTwisted(self, wjob):  # noqa: N802
        cmd, args = self.getCommandLine(wjob)
        niceness = getattr(wjob.uws, "niceness", 0)
        if niceness:
            # the whole process at a lower priority, loading the RD included
            # (nice execs the command: the pid stays the job's)
            cmd, args = "nice", ["nice", "-n", str(niceness), cmd, *args[1:]]
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        process = reactor.spawnProcess(_EndedProtocol(wjob.jobId, wjob.uws), cmd,
                                       args=args, env=env)
        wjob.change(pid=process.pid, phase=uws.EXECUTING)


def _job_class(service, default_duration: int):
    class AnalysisJob(useruws.UserUWSJobBase):
        _transitions = AnalysisTransitions()

        @classmethod
        def _default_jobClass(cls):  # noqa: N802
            return service.getFullId()

        @classmethod
        def _default_executionDuration(cls):  # noqa: N802
            return default_duration

    return AnalysisJob


class AnalysisUWS(useruws.UserUWS):
    """The worker system of the analysis service (see the module docstring)."""

    joblistPreamble = useruws.UserUWS.joblistPreamble
    jobdocPreamble = useruws.UserUWS.jobdocPreamble

    def __init__(self, service, *, max_running: int, default_duration: int,
                 max_duration: int, reaper_interval: int, niceness: int = 0):
        self.cleanupInterval = reaper_interval
        self.max_duration = max_duration
        self.niceness = niceness
        grammar = base.makeStruct(svcs.ContextGrammar, inputTD=service.core.inputTable)
        super().__init__(service, uwsactions.JobActions(_ExecutionDurationAction),
                         _CheckedParameters(grammar))
        self.jobClass = _job_class(service, default_duration)
        self.runcountGoal = max_running

    def _makeMoreStatements(self, statements, jobsTable):  # noqa: N802
        """DaCHS's queue statements, restricted to this service's jobs (the
        user-UWS jobs table is shared by every service of the site: other
        services' jobs are their own UWS's business)."""
        super()._makeMoreStatements(statements, jobsTable)
        job_class = self.service.getFullId()
        if not re.fullmatch(r"[\w/#.-]+", job_class):
            return  # not quotable as a plain literal: keep DaCHS's statements
        mine = f"jobClass='{job_class}'"
        td = jobsTable.tableDef
        statements["getIdsScheduledNext"] = jobsTable.getQuery(
            [td.getColumnByName("jobId")], f"phase='QUEUED' AND {mine}",
            limits=("ORDER BY destructionTime ASC", {}))
        statements["getHungCandidates"] = jobsTable.getQuery(
            [td.getColumnByName("jobId"), td.getColumnByName("pid")],
            f"phase='EXECUTING' AND {mine}")

    def getNewIdFromRequest(self, request):  # noqa: N802
        """A new job; queued at once when the creating request says
        PHASE=RUN (UWS 1.1; DaCHS's user UWS ignores it)."""
        job_id = super().getNewIdFromRequest(request)
        if (request.uwsArgs.get("phase") or "").upper() == "RUN":
            self.changeToPhase(job_id, uws.QUEUED)
        return job_id

    def getIdsAndPhases(self, owner=None, phase=None, last=None, after=None,  # noqa: N802
                        initFragments=None, initPars=None):  # noqa: N803
        """The job list: this service's jobs; those of ``owner`` for an
        authenticated user, and only jobs without an owner for anonymous
        users (DaCHS's list shows them every job id)."""
        fragments = ["jobClass=%(jobClass)s", *(initFragments or [])]
        if owner is None:
            fragments.append("owner IS NULL")
        return uws.UWSWithQueueing.getIdsAndPhases(
            self, owner, phase, last, after, initFragments=fragments,
            initPars={"jobClass": self.service.getFullId(), **(initPars or {})})

    def cleanupJobsTable(self, includeFailed=False, includeCompleted=False,  # noqa: N802
                         includeAll=False, includeForgotten=False):
        """Destroy this service's jobs past their destruction time (only
        those: other user UWSes reap their own)."""
        with base.AdhocQuerier() as querier:
            if not querier.getTableType(self.jobClass.jobsTD.getQName()):
                return
        rows = self.jobClass.jobsTD.doSimpleQuery(
            ["jobId"], "destructionTime<%(now)s AND jobClass=%(jobClass)s",
            {"now": datetime.datetime.utcnow(), "jobClass": self.service.getFullId()})
        for row in rows:
            try:
                self.destroy(row["jobId"])
            except base.QueryCanceledError:
                base.ui.notifyWarning(f"Postponing destruction of {row['jobId']}: locked")
            except uws.JobNotFound:
                pass


# ------------------------------------------------------------------ core

class Core(core.Core):
    """The core of the analysis service: a ``point_source`` job.

    Properties (q.rd): ``maxRunning`` (default DaCHS's
    ``[async]maxUserUWSRunningDefault``), ``defaultExecutionDuration``,
    ``maxExecutionDuration``, ``reaperInterval`` (seconds),
    ``niceness`` of the job processes.
    """

    name_ = "hessDrAnalysisCore"

    def _property(self, name):
        value = self.getProperty(name, None)
        return int(value) if value is not None else DEFAULTS.get(name)

    @property
    def workerSystem(self):  # noqa: N802 (DaCHS's name: service.getUWS asks for it)
        system = self.__dict__.get("_hess_dr_uws")
        if system is None:
            max_running = self._property("maxRunning")
            if max_running is None:
                max_running = base.getConfig("async", "maxUserUWSRunningDefault")
            default_duration = self._property("defaultExecutionDuration")
            max_duration = self._property("maxExecutionDuration")
            system = AnalysisUWS(self.parent, max_running=int(max_running),
                                 default_duration=min(default_duration, max_duration),
                                 max_duration=max_duration,
                                 reaper_interval=self._property("reaperInterval"),
                                 niceness=self._property("niceness"))
            self.__dict__["_hess_dr_uws"] = system
        return system

    def run(self, service, inputTable, queryMeta):  # noqa: N803
        job = getattr(inputTable, "job", None)
        if job is None:
            raise base.ValidationError(
                f"{JOB_NAME} runs as a UWS job: POST to {service.getURL('uws.xml')}", "RA")
        run_job(job, service)
        return None


# ------------------------------------------------------------ the job run

def _on_alarm(signum, frame):
    raise JobTimeout()


def _on_interrupt(signum, frame):
    raise JobAborted()


def _groups_of(user):
    if not user:
        return set()
    with base.getTableConn() as conn:
        return {row[0] for row in conn.query(
            "SELECT groupname FROM dc.groups WHERE username=%(user)s", {"user": user})}


def _candidates(params):
    """The candidate runs from hess_dr.obs_index, with their files' paths."""
    sql, args = analysis.candidate_query(params, extra_columns=("source_path",))
    inputs = base.getConfig("inputsDir")
    with base.getTableConn() as conn:
        rows = list(conn.queryToDicts(sql, args))
    return [analysis.Candidate.from_row(row, path=os.path.join(inputs, row["source_path"]))
            for row in rows]


def _collections():
    from hess_dr import config
    try:
        return {c.name: c for c in config.load(resdir=_RESDIR).collections}
    except Exception:  # only needed for runs with separate IRF files
        return {}


def _software():
    from hess_dr import provenance
    return provenance.software_versions(extra={"dachs": base.getVersion()})


def run_job(job, service):
    """Run a point_source job in this (``dachs uwsrun``) process.

    Results go into the job's directory and are declared to DaCHS; an
    :class:`hess_dr.analysis.AnalysisError` (no runs, nothing to fit...)
    is raised with its readable message, so DaCHS puts the job in ERROR
    with it; the log stays available as a result in every case.
    """
    workdir = job.getWD()
    output = os.path.join(workdir, "out")
    os.makedirs(output, exist_ok=True)
    log, handler = analysis.job_logger(output)
    duration = job.executionDuration
    signal.signal(signal.SIGINT, _on_interrupt)
    if duration and duration > 0:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(duration))
    started = time.perf_counter()
    try:
        try:
            params = analysis.parse_parameters(job.parameters)
            log.info("job %s by %s, execution duration %s s: selecting runs for %s",
                     job.jobId, job.owner or "anonymous", duration,
                     {k: v for k, v in params.as_dict().items() if v is not None})
            selection = analysis.select_runs(_candidates(params), params, job.owner,
                                             _groups_of(job.owner))
            note = "; ".join(f"{run.obs_id}: {reason}" for run, reason in selection.skipped)
            info = analysis.JobInfo(job_id=job.jobId, job_url=job.getURL(),
                                    authority=base.getConfig("ivoa", "authority"),
                                    user=job.owner, job_name=JOB_NAME)
            analysis.run_point_source(params, selection.runs, output, info,
                                      collections=_collections(), software=_software(),
                                      selection_note=note, log=log)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except JobTimeout:
        _end(job, output, handler, log, uws.ABORTED,
             f"Aborted: the execution duration of {duration} s was exceeded"
             f" (EXECUTIONDURATION may be raised up to {job.uws.max_duration} s)")
    except JobAborted:
        _end(job, output, handler, log, uws.ABORTED,
             f"Aborted by the client after {time.perf_counter() - started:.1f} s")
    except (analysis.AnalysisError, analysis.ParameterError) as exc:
        _end(job, output, handler, log, uws.ERROR, str(exc))
    except Exception as exc:
        log.error("internal error: %s", "".join(traceback.format_exception(exc)))
        _end(job, output, handler, log, uws.ERROR,
             f"Internal error of the analysis: {type(exc).__name__}: {exc} (see analysis.log)")
    _finish(job, output, handler)
    with job.getWritable() as wjob:  # DaCHS's runner sets no end time on success
        wjob.change(endTime=datetime.datetime.utcnow())


def _end(job, output, handler, log, phase, message):
    """End a job that produced no result: the log as its result, the phase
    and the message set here (DaCHS's runner would print a traceback and
    start queued jobs from this process), then leave quietly."""
    log.error("%s", message)
    _finish(job, output, handler)
    with job.getWritable() as wjob:
        wjob.change(phase=phase, endTime=datetime.datetime.utcnow(),
                    error=uws.UWSError(message[:2000], job.jobId))
    raise SystemExit(0)


#: Order of the results in the UWS results list.
_RESULT_ORDER = ("fit.json", "counts-map.png", "spectrum.png", "flux-points.fits",
                 "flux-points.vot", "analysis.log", "provenance.json", "provenance.provn",
                 "provenance.png", "index.html")


def _finish(job, output, handler):
    """Declare the files the analysis wrote as the job's results (copied
    from the scratch folder into the job directory by DaCHS's addResult)."""
    analysis.close_logger(handler)
    with job.getWritable() as wjob:
        for name in _RESULT_ORDER:
            path = os.path.join(output, name)
            if os.path.exists(path):
                with open(path, "rb") as source:
                    wjob.addResult(source, analysis.RESULTS[name][0], name)
    shutil.rmtree(output, ignore_errors=True)
