"""Create, reuse, drive and destroy a private GAVO DaCHS instance.

A private instance is a GAVO root directory of its own (``gavo.rc``, ``etc/``,
``inputs/``, logs, ...), a PostgreSQL database of its own and database roles
with a prefix of their own, served on a port of its own.  It needs no
machine-wide DaCHS configuration and does not disturb other instances on the
machine, so the demo (``bin/hess-dr-demo``) and every test session can have
one.

This module deliberately does not import :mod:`gavo`: it drives DaCHS through
``<python> -m gavo.user.cli ...`` subprocesses with ``GAVOSETTINGS`` pointing
at the instance's ``gavo.rc``, so that the interpreter running DaCHS (the
checkout's venv on Debian's Python) can differ from the one running this
code, and so that DaCHS's process-wide configuration never leaks between
instances.  It uses the standard library only, except
:func:`write_operator_config`, which imports PyYAML when called.

Examples
--------
Not a doctest (it creates a database)::

    inst = create_or_reuse("/tmp/gavo", free_port(), "hess_dr_x", "hessdr_x_",
                           extra_env={"HESS_DR_CONFIG": "/tmp/hess_dr.yaml"})
    output = inst.import_resource()
    with inst.serve():
        print(inst.tap_url)
    inst.destroy()
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Iterator, Mapping, Sequence

#: The git checkout (the resource directory with ``q.rd``, ``hea.rd``):
#: this development package lives in ``<checkout>/dev/hess_dr_dev``.
CHECKOUT = Path(__file__).resolve().parents[2]

#: Name of the resource directory below the instance's inputs directory;
#: the RD ids are therefore ``hess_dr/q`` and ``hess_dr/hea``.
RESDIR_NAME = "hess_dr"

#: RDs imported, in this order, by :meth:`Instance.import_resource`.
#: ``q`` first: hea's view selects from hess_dr.obs_index.  Importing ``hea``
#: publishes ivoa.obscore_hea in TAP_SCHEMA; later imports of ``q`` rebuild
#: the view (recreateAfter) and keep that metadata.
IMPORT_RDS = ("hess_dr/q", "hess_dr/hea")

#: RDs published to the instance's registry by :meth:`Instance.import_resource`:
#: DaCHS's authority and registry records and its TAP service (what a site
#: publishes once, see DaCHS's docs), then hess_dr's collection records.
PUBLISH_RDS = ("//services", "//tap", "hess_dr/q")

#: RDs the server loads before its first request (``[web]preloadRDs``):
#: hess_dr's services, and the opt-in fixes to DaCHS 2.7 an operator would
#: enable in production (res/dachsfixes.py).
PRELOAD_RDS = ("hess_dr/q", "hess_dr/dachsfixes")

#: DaCHS profile file -> role name suffix (the defaults of ``dachs init``).
PROFILE_ROLES = {
    "feed": "gavoadmin",
    "trustedquery": "gavo",
    "untrustedquery": "untrusted",
}

#: Where the instance remembers what has been done to it already.
STATE_FILE = "hess_dr-instance.json"

# Database and role names end up in SQL and shell commands unquoted by DaCHS.
_SQL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class DachsError(RuntimeError):
    """A DaCHS command, or the DaCHS server, failed."""


def default_python() -> str:
    """Return the interpreter that should run DaCHS.

    Returns
    -------
    str
        ``<checkout>/.venv/bin/python`` if it exists (Debian's Python with
        the project's packages, as made by ``bin/bootstrap.sh``), else
        :data:`sys.executable`.
    """
    venv_python = CHECKOUT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    Returns
    -------
    int
        A port number the kernel handed out for an ephemeral bind.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Tell whether something can bind ``127.0.0.1:port`` now.

    Parameters
    ----------
    port : int
        The TCP port to probe.

    Returns
    -------
    bool
        True if binding succeeded.
    """
    with socket.socket() as sock:
        # Match what twisted does, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _check_sql_name(kind: str, name: str) -> None:
    if not _SQL_NAME.match(name):
        raise ValueError(
            f"{kind} {name!r} must be lower-case letters, digits and '_'")


def _psql(sql: str) -> str:
    """Run SQL as the OS user (a PostgreSQL superuser) in database postgres."""
    res = subprocess.run(
        ["psql", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        capture_output=True, text=True)
    if res.returncode:
        raise DachsError(f"psql failed: {sql}\n{res.stdout}\n{res.stderr}")
    return res.stdout


def _database_exists(dbname: str) -> bool:
    return _psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'").strip() == "1"


def _run_checked(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command, capturing its output, raising DachsError on failure."""
    res = subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)
    if res.returncode:
        raise DachsError(_failure_message(cmd, res.returncode, res.stdout,
                                          res.stderr))
    return res


def _failure_message(cmd: Sequence[str], returncode: int, stdout: str,
                     stderr: str | None) -> str:
    """Describe a failed command; ``stderr=None`` if merged into stdout."""
    head = f"command failed (exit {returncode}): {' '.join(map(str, cmd))}\n"
    if stderr is None:
        return f"{head}--- output ---\n{stdout}"
    return f"{head}--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"


def _tail(path: Path, max_chars: int = 8000) -> str:
    try:
        return path.read_text(errors="replace")[-max_chars:]
    except OSError:
        return ""


def drop_database_and_roles(dbname: str, role_prefix: str) -> None:
    """Drop an instance's database and roles, if they exist.

    Parameters
    ----------
    dbname : str
        The database to drop.
    role_prefix : str
        Prefix of the roles ``<prefix>gavoadmin``, ``<prefix>gavo`` and
        ``<prefix>untrusted`` to drop.

    Raises
    ------
    DachsError
        If dropping failed, e.g. because a role still owns objects elsewhere.
    """
    _check_sql_name("dbname", dbname)
    _check_sql_name("role prefix", role_prefix)
    # --force: a stray server or psql session must not keep the DB alive.
    _run_checked(["dropdb", "--if-exists", "--force", dbname])
    for role in PROFILE_ROLES.values():
        _psql(f'DROP ROLE IF EXISTS "{role_prefix}{role}"')


@dataclasses.dataclass
class Instance:
    """A private DaCHS instance; build one with :func:`create_or_reuse`.

    Parameters
    ----------
    root : Path
        The GAVO root directory (``rootDir`` in ``gavo.rc``).
    port : int
        The port the server listens on (127.0.0.1 only).
    dbname : str
        The PostgreSQL database of the instance.
    role_prefix : str
        Prefix of the instance's database roles (``<prefix>gavoadmin``, ...).
    authority : str
        The IVOA authority, used for publisher DIDs.
    extra_env : dict
        Variables added to the environment of every DaCHS process, e.g.
        ``HESS_DR_CONFIG``.
    python : str
        The interpreter running DaCHS (see :func:`default_python`).
    preload_rds : tuple of str
        RDs the server preloads (``[web]preloadRDs``).
    """

    root: Path
    port: int
    dbname: str
    role_prefix: str
    authority: str = "hess-dr.example"
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    python: str = dataclasses.field(default_factory=default_python)
    preload_rds: tuple = PRELOAD_RDS
    _server: subprocess.Popen | None = dataclasses.field(
        default=None, init=False, repr=False)
    _infos_offset: int = dataclasses.field(default=0, init=False, repr=False)

    # ---------------------------------------------------------------- paths

    @property
    def rc_path(self) -> Path:
        """Path of the instance's ``gavo.rc``."""
        return self.root / "gavo.rc"

    @property
    def resdir_link(self) -> Path:
        """The symlink ``<root>/inputs/hess_dr`` to the resource directory."""
        return self.root / "inputs" / RESDIR_NAME

    @property
    def url(self) -> str:
        """Root URL of the server, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def tap_url(self) -> str:
        """URL of the TAP service."""
        return f"{self.url}/tap"

    @property
    def server_log(self) -> Path:
        """File receiving stdout and stderr of the server process (its
        request log is ``logs/web.log``, its errors ``logs/dcErrors``)."""
        return self.root / "logs" / "serve.log"

    @property
    def env(self) -> dict[str, str]:
        """Environment for DaCHS processes of this instance.

        ``GAVOSETTINGS`` selects the instance's ``gavo.rc``; ``GAVOCUSTOM``
        points nowhere so no site customisation is read.  The interpreter's
        directory goes first on ``PATH``: DaCHS spawns ``gavo taprun`` (async
        TAP) and ``dachs uwsrun`` by name, and those must run in the venv
        (bin/bootstrap.sh puts ``dachs`` and ``gavo`` wrappers there).
        """
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update(GAVOSETTINGS=str(self.rc_path), GAVOCUSTOM="/invalid")
        env["PATH"] = os.pathsep.join(
            [str(Path(self.python).parent), env.get("PATH", "")])
        return env

    @property
    def roles(self) -> list[str]:
        """The database roles of this instance."""
        return [self.role_prefix + r for r in PROFILE_ROLES.values()]

    # --------------------------------------------------------------- dachs

    def dachs_command(self, *args: str) -> list[str]:
        """Return the command line running ``dachs <args>`` for this instance.

        Parameters
        ----------
        *args : str
            Arguments to ``dachs``, e.g. ``"imp", "hess_dr/q"``.

        Returns
        -------
        list of str
            ``[python, "-m", "gavo.user.cli", *args]``.
        """
        return [self.python, "-m", "gavo.user.cli", *args]

    def run_dachs(self, *args: str, check: bool = True,
                  timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run a DaCHS command to completion, capturing its output.

        Parameters
        ----------
        *args : str
            Arguments to ``dachs``, e.g. ``"test", "hess_dr/q"``.
        check : bool
            Raise on a non-zero exit status.
        timeout : float, optional
            Seconds after which the command is killed.

        Returns
        -------
        subprocess.CompletedProcess
            With ``stdout`` and ``stderr`` as text.

        Raises
        ------
        DachsError
            If ``check`` and the command failed; the message holds the
            command line, stdout and stderr.
        """
        cmd = self.dachs_command(*args)
        res = subprocess.run(cmd, env=self.env, cwd=self.root,
                             capture_output=True, text=True, timeout=timeout)
        if check and res.returncode:
            raise DachsError(_failure_message(cmd, res.returncode, res.stdout,
                                              res.stderr))
        return res

    def stream_dachs(self, *args: str, out: IO[str] | None = None) -> str:
        """Run a DaCHS command, copying its output to ``out`` as it comes.

        Parameters
        ----------
        *args : str
            Arguments to ``dachs``.
        out : file-like, optional
            Where to copy stdout and stderr (merged) line by line;
            default :data:`sys.stdout`.

        Returns
        -------
        str
            The command's complete output.

        Raises
        ------
        DachsError
            If the command failed; the message holds the command line and
            the output.
        """
        out = sys.stdout if out is None else out
        cmd = self.dachs_command(*args)
        # Unbuffered, or progress arrives in one lump at the end.
        env = dict(self.env, PYTHONUNBUFFERED="1")
        lines = []
        with subprocess.Popen(cmd, env=env, cwd=self.root, text=True,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as proc:
            for line in proc.stdout:
                lines.append(line)
                out.write(line)
                out.flush()
        output = "".join(lines)
        if proc.returncode:
            raise DachsError(_failure_message(cmd, proc.returncode, output, None))
        return output

    def import_resource(self, out: IO[str] | None = None,
                        import_rds: Sequence[str] = IMPORT_RDS,
                        publish_rds: Sequence[str] = PUBLISH_RDS) -> str:
        """Import the resource's RDs and publish the service.

        Runs ``dachs imp hess_dr/q``, ``dachs imp hess_dr/hea`` and
        ``dachs pub`` of :data:`PUBLISH_RDS`, in this order, stopping at
        the first failure.

        Parameters
        ----------
        out : file-like, optional
            Receives DaCHS's output while it runs (default :data:`sys.stdout`).
        import_rds, publish_rds : sequence of str
            RD ids to import, then to publish.

        Returns
        -------
        str
            The combined output of all commands.

        Raises
        ------
        DachsError
            If a command failed.
        """
        steps = ([("imp", rd) for rd in import_rds]
                 + [("pub", rd) for rd in publish_rds])
        return "".join(self.stream_dachs(*step, out=out) for step in steps)

    # -------------------------------------------------------------- server

    def start_server(self, timeout: float = 60.0) -> subprocess.Popen:
        """Start the server and wait until TAP answers.

        The server runs as in production under systemd (``dachs serve start
        --foreground``): not in DaCHS's debug mode, and preloading the RDs
        of ``[web]preloadRDs`` (:attr:`preload_rds`).

        Parameters
        ----------
        timeout : float
            Seconds to wait for ``/tap/capabilities`` to answer.

        Returns
        -------
        subprocess.Popen
            The server process (also kept for :meth:`stop_server`).

        Raises
        ------
        DachsError
            If the port is taken, or the server dies or does not answer in
            time; the message holds the server's output.
        """
        if self._server is not None and self._server.poll() is None:
            return self._server
        if not port_is_free(self.port):
            # Otherwise the readiness probe might talk to someone else's server.
            raise DachsError(f"port {self.port} on 127.0.0.1 is already in use")
        self.server_log.parent.mkdir(parents=True, exist_ok=True)
        infos = self.root / "logs" / "dcInfos"
        self._infos_offset = infos.stat().st_size if infos.exists() else 0
        with open(self.server_log, "wb") as log:
            # A file, not a pipe: nobody drains a pipe while the server runs.
            # Own session: a terminal's Ctrl-C reaches only our process, which
            # then stops the server in order.
            self._server = subprocess.Popen(
                self.dachs_command("serve", "start", "--foreground"), env=self.env,
                cwd=self.root, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop_server()
            raise
        return self._server

    def _wait_until_ready(self, timeout: float) -> None:
        # DaCHS answers before it preloads [web]preloadRDs (in the reactor
        # thread, after start-up): wait for the last preload to start, then
        # for one more answer, which the reactor gives once it is done.
        probe = self.tap_url + "/capabilities"
        deadline = time.monotonic() + timeout
        answered = False
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise DachsError(
                    f"dachs serve start exited with {self._server.returncode}"
                    f":\n{_tail(self.server_log)}")
            try:
                if not answered or self._preloading_started():
                    with urllib.request.urlopen(probe, timeout=10) as resp:
                        if resp.status == 200 and answered:
                            return
                        answered = resp.status == 200
                        continue
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise DachsError(f"no answer from {probe} within {timeout} s:\n"
                         f"{_tail(self.server_log)}")

    def _preloading_started(self) -> bool:
        """True once this server has logged the preload of its last
        preloaded RD (or preloads none)."""
        if not self.preload_rds:
            return True
        try:
            with open(self.root / "logs" / "dcInfos", "rb") as infos:
                infos.seek(self._infos_offset)
                logged = infos.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return False
        return f"Preloading {self.preload_rds[-1]}" in logged

    def stop_server(self, grace: float = 20.0) -> None:
        """Stop the server started by :meth:`start_server`, if any.

        Sends SIGTERM, and SIGKILL if the server has not exited after
        ``grace`` seconds.

        Parameters
        ----------
        grace : float
            Seconds to wait after SIGTERM.
        """
        proc, self._server = self._server, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def server_running(self) -> bool:
        """True while a server started by :meth:`start_server` runs."""
        return self._server is not None and self._server.poll() is None

    @contextlib.contextmanager
    def serve(self, timeout: float = 60.0) -> Iterator["Instance"]:
        """Context manager running the server for the duration of a block.

        Parameters
        ----------
        timeout : float
            Passed to :meth:`start_server`.

        Yields
        ------
        Instance
            This instance, with the server answering.
        """
        self.start_server(timeout)
        try:
            yield self
        finally:
            self.stop_server()

    # ------------------------------------------------------------- removal

    def destroy(self) -> None:
        """Remove the instance: server, database, roles and root directory.

        The checkout the instance links to is left alone.
        """
        self.stop_server()
        drop_database_and_roles(self.dbname, self.role_prefix)
        # Unlink first so no tree walk can ever descend into the checkout.
        if self.resdir_link.is_symlink():
            self.resdir_link.unlink()
        shutil.rmtree(self.root, ignore_errors=True)


# -------------------------------------------------------------- creation

def _write_rc(inst: Instance, sitename: str = "hess_dr") -> None:
    """(Re)write gavo.rc; it holds no secrets, so reuse may just overwrite."""
    group = grp.getgrgid(os.getgid()).gr_name
    inst.rc_path.write_text(f"""\
# Private DaCHS instance written by hess_dr_dev.instance; rewritten on reuse.
[general]
rootDir: {inst.root}
group: {group}

[web]
serverURL: {inst.url}
serverPort: {inst.port}
bindAddress: 127.0.0.1
sitename: {sitename}
preloadRDs: {", ".join(inst.preload_rds)}
# empty: do not setuid to a "gavo" user
user:

[ivoa]
authority: {inst.authority}
""")


# ------------------------------------------------------ site metadata

#: RD whose STREAM ``tapexamples`` holds hess_dr's TAP examples; the
#: instance's etc/userconfig.rd feeds it into DaCHS's TAP service.
EXAMPLES_RD = "hess_dr/examples"
#: RD whose STREAMs add data_rights and obs_release_date to ivoa.obscore
#: (DaCHS's ObsCore extension through etc/userconfig.rd).
OBSCORE_RIGHTS_RD = "hess_dr/obscorerights"
#: What state["obscore"] records once //obscore is imported with them.
OBSCORE_STATE = "with data_rights"

#: An offline stand-in for the IVOA UAT (http://www.ivoa.net/rdf/uat):
#: the terms hess_dr's configurations and DaCHS's own records use, with
#: their UAT labels.  DaCHS downloads the vocabulary to check subjects
#: (`dachs val`) and to label them on its pages; without a network that
#: fails, so the instances get this file in DaCHS's vocabulary cache.  It
#: holds fewer terms than the UAT, never others: a subject outside it is
#: reported by `dachs val` as not from the UAT.
UAT_STAND_IN = {
    "active-galactic-nuclei": "Active galactic nuclei",
    "blazars": "Blazars",
    "cosmic-rays": "Cosmic rays",
    "gamma-ray-astronomy": "Gamma-ray astronomy",
    "gamma-ray-bursts": "Gamma-ray bursts",
    "gamma-ray-sources": "Gamma-ray sources",
    "high-energy-astrophysics": "High energy astrophysics",
    "particle-astrophysics": "Particle astrophysics",
    "pulsars": "Pulsars",
    "supernova-remnants": "Supernova remnants",
    "virtual-observatories": "Virtual observatories",
}


def site_metadata(config_path: str | os.PathLike | None) -> dict:
    """The site metadata of an instance from the operator configuration's
    ``service`` block (see res/hess_dr.default.yaml): keys ``title``,
    ``short_name``, ``description``, ``publisher``, ``contact_name``,
    ``contact_email``, ``contact_address``, ``reference_url``; {} without
    a configuration."""
    if not config_path:
        return {}
    from hess_dr import config as hess_config  # keep this module stdlib-only on import

    configuration = hess_config.load(config_path)
    return {key: getattr(configuration, key) for key in hess_config.SERVICE_KEYS
            if getattr(configuration, key)}


def _meta_line(key: str, value: str) -> str:
    """A line of a DaCHS meta stream (one line; backslashes start macros)."""
    return f"{key}: {' '.join(str(value).split())}".replace("\\", "\\\\")


def _write_site_files(inst: Instance, site: dict) -> None:
    """Write the site's metadata (etc/defaultmeta.txt), its customisation
    (etc/userconfig.rd: hess_dr's TAP examples) and the UAT stand-in.

    Rewritten on every reuse, from the configuration; the authority's
    creation date of the first ``dachs init`` is kept."""
    etc = inst.root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    defaultmeta = etc / "defaultmeta.txt"
    created = None
    if defaultmeta.exists():
        match = re.search(r"^authority\.creationDate:\s*(\S+)", defaultmeta.read_text(), re.M)
        created = match and match.group(1)
    created = created or time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    title = site.get("title") or "hess_dr"
    publisher = site.get("publisher") or site.get("contact_name") or "hess_dr operators"
    lines = [
        "# Site metadata of a private DaCHS instance, written by",
        "# hess_dr_dev.instance from the operator configuration's service block.",
        _meta_line("publisher", publisher),
        _meta_line("contact.name", site.get("contact_name") or publisher),
        _meta_line("contact.email", site.get("contact_email") or "invalid@example.org"),
    ]
    if site.get("contact_address"):
        lines.append(_meta_line("contact.address", site["contact_address"]))
    lines += [
        _meta_line("creator.name", publisher),
        "creator.logo: \\getConfig{web}{serverURL}/favicon.png",
        "_noresultwarning: Your query did not match any data.",
        _meta_line("authority.creationDate", created),
        _meta_line("authority.shortName", site.get("short_name") or "hess_dr"),
        _meta_line("authority.title", f"{title} (authority {inst.authority})"),
        _meta_line("authority.description",
                   f"The authority {inst.authority} of {title}, which publishes"
                   f" gamma-ray event lists with hess_dr."),
        _meta_line("authority.referenceURL", site.get("reference_url") or f"{inst.url}/"),
        _meta_line("site.description", site.get("description") or title),
    ]
    defaultmeta.write_text("\n".join(lines) + "\n")
    (etc / "userconfig.rd").write_text(f"""\
<!-- Site customisation of a private DaCHS instance, written by
hess_dr_dev.instance: DaCHS's TAP service shows hess_dr's TAP examples
(/tap/examples), kept in the RD {EXAMPLES_RD}, and ivoa.obscore has
ObsCore 1.1's data_rights and obs_release_date. -->
<resource schema="__system">
  <STREAM id="tapexamples">
    <FEED source="{EXAMPLES_RD}#tapexamples"/>
  </STREAM>
  <!-- data_rights and obs_release_date in ivoa.obscore ({OBSCORE_RIGHTS_RD}) -->
  <STREAM id="obscore-extracolumns">
    <FEED source="{OBSCORE_RIGHTS_RD}#columns"/>
  </STREAM>
  <STREAM id="obscore-extrapars">
    <FEED source="{OBSCORE_RIGHTS_RD}#pars"/>
  </STREAM>
  <STREAM id="obscore-extraevents">
    <FEED source="{OBSCORE_RIGHTS_RD}#events"/>
  </STREAM>
</resource>
""")
    cache = inst.root / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    # DaCHS's cache name of http://www.ivoa.net/rdf/uat (utils.defuseFileName)
    vocabulary = {"uri": "http://www.ivoa.net/rdf/uat", "flavour": "SKOS",
                  "terms": {term: {"label": label, "description": label, "wider": [],
                                   "narrower": []}
                            for term, label in UAT_STAND_IN.items()}}
    (cache / "http:=2F=2Fwww.ivoa.net=2Frdf=2Fuat").write_text(json.dumps(vocabulary))


def _read_password(profile: Path) -> str | None:
    try:
        text = profile.read_text()
    except FileNotFoundError:
        return None
    match = re.search(r"^password\s*=\s*(\S+)\s*$", text, re.M)
    return match.group(1) if match else None


def _write_profiles(inst: Instance, pg_host: str, pg_port: int) -> None:
    """Write etc/dsn and the DB profiles with prefixed role names.

    With DaCHS's default role names, ``dachs init`` would reset the passwords
    of cluster-wide roles shared by every other DaCHS on the machine.
    Passwords are kept on reuse so the roles' passwords stay valid.
    """
    etc = inst.root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "dsn").write_text(
        f"database = {inst.dbname}\nhost = {pg_host}\nport = {pg_port}\n")
    for profile, role in PROFILE_ROLES.items():
        path = etc / profile
        password = _read_password(path) or secrets.token_hex(16)
        path.write_text(f"include dsn\nuser = {inst.role_prefix}{role}\n"
                        f"password = {password}\n")
        path.chmod(0o600)


def _load_state(root: Path) -> dict:
    try:
        return json.loads((root / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _save_state(root: Path, state: dict) -> None:
    (root / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def _link_resdir(link: Path, resdir: Path) -> None:
    """Make ``link`` (e.g. ``<root>/inputs/hess_dr``) a symlink to ``resdir``."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        if Path(os.readlink(link)) == resdir:
            return
        link.unlink()
    elif link.exists():
        raise DachsError(f"{link} exists and is not a symlink; remove it")
    link.symlink_to(resdir, target_is_directory=True)


def create_or_reuse(root: str | os.PathLike, port: int, dbname: str,
                    role_prefix: str, authority: str = "hess-dr.example",
                    extra_env: Mapping[str, str] | None = None, *,
                    python: str | None = None,
                    resdir: str | os.PathLike = CHECKOUT,
                    preload_rds: Sequence[str] = PRELOAD_RDS,
                    other_resdirs: Mapping[str, str | os.PathLike] | None = None,
                    pg_host: str = "localhost",
                    pg_port: int = 5432) -> Instance:
    """Create a private DaCHS instance, or bring an existing one up to date.

    Writes ``gavo.rc`` (always, so a new port takes effect), ``etc/dsn`` and
    the three DB profiles; creates the database if it is missing; runs
    ``dachs init`` unless this database was initialised for this root
    before; links ``resdir`` as ``<root>/inputs/hess_dr``; and imports
    ``//obscore`` and ``//uws enable_useruws`` (the jobs table of the
    analysis service) once.

    Parameters
    ----------
    root : path-like
        The GAVO root directory; created if missing.
    port : int
        Port for the web server (see :func:`free_port`).
    dbname : str
        PostgreSQL database name (lower-case letters, digits, ``_``).
    role_prefix : str
        Prefix of the database roles (same alphabet as ``dbname``).
    authority : str
        IVOA authority of the instance.
    extra_env : mapping, optional
        Extra environment for DaCHS processes, e.g. ``HESS_DR_CONFIG``.
    python : str, optional
        Interpreter running DaCHS; default :func:`default_python`.
    resdir : path-like
        The resource directory to publish; default the checkout.
    preload_rds : sequence of str
        RDs the server preloads; default :data:`PRELOAD_RDS`.
    other_resdirs : mapping, optional
        Further resource directories, linked as ``<root>/inputs/<name>``
        (other resources sharing the site).
    pg_host, pg_port : str, int
        Where DaCHS's roles reach PostgreSQL.

    Returns
    -------
    Instance
        The ready instance (server not started).

    Raises
    ------
    DachsError
        If a database or DaCHS command failed.
    ValueError
        If ``dbname`` or ``role_prefix`` is not a plain SQL name.
    """
    _check_sql_name("dbname", dbname)
    _check_sql_name("role prefix", role_prefix)
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    inst = Instance(root=root, port=port, dbname=dbname,
                    role_prefix=role_prefix, authority=authority,
                    extra_env=dict(extra_env or {}),
                    python=python or default_python(),
                    preload_rds=tuple(preload_rds))
    # the site's name, description, contact... from the configuration
    site = site_metadata(inst.extra_env.get("HESS_DR_CONFIG"))
    _write_rc(inst, sitename=site.get("title") or "hess_dr")
    _write_profiles(inst, pg_host, pg_port)

    state = _load_state(root)
    fresh_db = not _database_exists(dbname)
    if fresh_db:
        _run_checked(["createdb", "--encoding=UTF-8", "--template=template0",
                      "--locale=C", dbname])
    wanted = {"dbname": dbname, "role_prefix": role_prefix}
    if fresh_db or state.get("initialised") != wanted:
        # init reads the profiles written above, so it creates prefixed roles
        # (or resets the passwords of this instance's own roles).
        inst.run_dachs("init", "-d", f"dbname={dbname}")
        state = {"initialised": wanted}
        _save_state(root, state)

    _write_site_files(inst, site)
    _link_resdir(inst.resdir_link, Path(resdir).resolve())
    for name, path in (other_resdirs or {}).items():
        _link_resdir(inst.root / "inputs" / name, Path(path).resolve())

    if state.get("obscore") != OBSCORE_STATE:
        inst.run_dachs("imp", "//obscore")
        if state.get("obscore"):
            # ObsCore's columns changed on an instance in use: DaCHS's recipe
            # (the contributors' SQL fragments again, then the view)
            inst.run_dachs("imp", "//obscore", "refreshAfterSchemaUpdate")
            inst.run_dachs("imp", "//obscore")
        state["obscore"] = OBSCORE_STATE
        _save_state(root, state)
    if not state.get("useruws"):
        # the jobs table of user UWSes (hess_dr/q's analysis service)
        inst.run_dachs("imp", "//uws", "enable_useruws")
        state["useruws"] = True
        _save_state(root, state)
    return inst


# ------------------------------------------------------ operator config

def write_operator_config(dest: str | os.PathLike, data_dir: str | os.PathLike,
                          template: str | os.PathLike | None = None) -> Path:
    """Write an operator configuration publishing ``data_dir``.

    The file is the template (by default ``res/hess_dr.default.yaml``) with
    the first collection's ``data_dir`` replaced by the absolute
    ``data_dir``.  Comments of the template are not kept.

    Parameters
    ----------
    dest : path-like
        The YAML file to write.
    data_dir : path-like
        Directory holding the DL3 files of the first collection.
    template : path-like, optional
        Operator YAML with a top-level ``collections`` list.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ValueError
        If the template has no ``collections`` list.
    """
    import yaml  # the one non-stdlib need of this module; keep it local

    template = Path(template or CHECKOUT / "res" / "hess_dr.default.yaml")
    config = yaml.safe_load(template.read_text())
    collections = (config or {}).get("collections")
    if not collections:
        raise ValueError(f"{template}: no 'collections' list")
    collections[0]["data_dir"] = str(Path(data_dir).resolve())
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(
        f"# Generated from {template} by hess_dr_dev.instance.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return dest
