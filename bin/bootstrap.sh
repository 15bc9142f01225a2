#!/bin/bash
# Bring a Debian 12 machine (root, no systemd) to the state hess_dr needs:
# DaCHS 2.7 + PostgreSQL 15 (pgsphere, q3c) running, root a PG superuser,
# and <checkout>/.venv on Debian's interpreter with gammapy 1.3, pyvo, pytest
# and hess_dr itself and its development package dev/ (hess_dr_dev), editable;
# prov[dot] (W3C PROV documents of analysis jobs and datasets; pydot, and
# Debian's graphviz, draw them); mocpy (the coverage MOCs of the registry
# records; 0.21 works with Debian's numpy 1.24 and astropy 5.2); selenium
# (the browser test of the search form drives Debian's chromium with
# chromium-driver).
#
# Idempotent and quiet: when everything is in place it only checks and prints
# one line.  Usage: bash bin/bootstrap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

DEB_PACKAGES=(python3-gavo postgresql-15-pgsphere postgresql-15-q3c python3-venv
              stilts python3-h5py python3-psutil chromium chromium-driver graphviz)
# Debian packages DaCHS is built against; pip must never replace them in the venv
# (gammapy 2 / numpy 2 / astropy 6 break every DaCHS command).
DEBIAN_PINNED=(numpy astropy scipy matplotlib pyerfa PyYAML lxml psycopg2 Twisted
               docutils python-dateutil Pillow requests urllib3 packaging pyparsing attrs)
VENV=.venv
# Another apt/dpkg run (e.g. a provisioning script) may hold the lock: wait for it.
APT_GET=(apt-get -q -o DPkg::Lock::Timeout=900)

log() { echo "[bootstrap] $*"; }

missing_packages() {
  local pkg
  for pkg in "${DEB_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] \
      || echo "$pkg"
  done
}

pg_status() {
  pg_lsclusters -h 2>/dev/null | awk '$1==15 && $2=="main" {print $4}'
}

start_postgres() {
  # No systemd: package scripts do not start PostgreSQL, so do it by hand.
  if [ -z "$(pg_status)" ]; then
    log "creating PostgreSQL cluster 15/main"
    pg_createcluster 15 main >/dev/null
  fi
  if [[ "$(pg_status)" != online* ]]; then
    log "starting PostgreSQL 15/main"
    pg_ctlcluster 15 main start
  fi
}

apt_update() {
  # The lists lock is not covered by DPkg::Lock::Timeout: retry while it is taken.
  local try err
  err=$(mktemp)
  for try in $(seq 60); do
    if "${APT_GET[@]}" update 2>"$err"; then rm -f "$err"; return 0; fi
    grep -qi 'lock' "$err" || break
    [ "$try" = 1 ] && log "apt is busy (lock held); waiting"
    sleep 10
  done
  cat "$err" >&2
  rm -f "$err"
  return 1
}

install_packages() {
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  log "installing Debian packages:" $missing
  # Fresh machines often have empty apt lists.
  apt_update
  # shellcheck disable=SC2086  # word splitting of the package list is intended
  if ! "${APT_GET[@]}" install -y $missing; then
    # DaCHS' postinst needs a running PostgreSQL, which nothing started yet.
    log "package configuration failed; starting PostgreSQL and retrying"
    start_postgres
    dpkg --configure -a
    # shellcheck disable=SC2086
    "${APT_GET[@]}" install -y $missing
  fi
}

ensure_pg_superuser() {
  # DaCHS (createdb, dachs init) connects as the OS user over the unix socket.
  local me is_super
  me=$(id -un)
  is_super=$(runuser -u postgres -- psql -d postgres -Atc \
      "SELECT rolsuper FROM pg_roles WHERE rolname = '$me'")
  case "$is_super" in
    t) ;;
    f) log "granting SUPERUSER to PostgreSQL role $me"
       runuser -u postgres -- psql -d postgres -qc "ALTER ROLE \"$me\" SUPERUSER" ;;
    *) log "creating PostgreSQL superuser $me"
       runuser -u postgres -- createuser -s "$me" ;;
  esac
}

write_constraints() {
  # Pin to whatever Debian ships, read from Debian's own interpreter.
  /usr/bin/python3 - "${DEBIAN_PINNED[@]}" > "$VENV/constraints-debian.txt" <<'PY'
import importlib.metadata as md
import sys
for dist in sys.argv[1:]:
    print(f"{dist}=={md.version(dist)}")
PY
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV (Debian python, system site packages)"
    # Debian's interpreter, not whatever python3 is first on PATH: only it sees gavo.
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
  fi
  [ -e "$STAMP" ] && return 0
  log "installing Python packages into $VENV (gammapy builds from source; takes a while)"
  write_constraints
  "$VENV/bin/pip" install -q --disable-pip-version-check \
      -c "$VENV/constraints-debian.txt" \
      "gammapy>=1.3,<1.4" pyvo "prov[dot]" "mocpy==0.21.0" "selenium==4.32.0" \
      pytest pytest-random-order hypothesis -e . -e dev
  PIP_RAN=1
}

venv_dachs_commands() {
  # DaCHS spawns `gavo taprun` (async TAP) and `dachs uwsrun` (UWS jobs) by
  # name from PATH; with these wrappers first on PATH, those children run in
  # the venv too and can import hess_dr and gammapy.
  # The __main__ guard matters: worker processes started with "spawn" (the
  # import's file readers) re-import the main script.
  local name
  for name in dachs gavo; do
    if ! grep -q "__main__" "$VENV/bin/$name" 2>/dev/null; then
      printf '#!%s\nimport sys\nfrom gavo.user.cli import main\n\nif __name__ == "__main__":\n    sys.exit(main())\n' \
        "$PWD/$VENV/bin/python" > "$VENV/bin/$name"
      chmod +x "$VENV/bin/$name"
    fi
  done
}

smoke_test() {
  # `import gavo` succeeds even in a broken venv; importing gavo.api pulls in the
  # astropy-dependent modules that break first (angle_utilities with astropy 6).
  # (`python -m gavo.user.cli --version` would be nicer but queries the database
  # of a configured instance, which a fresh machine does not have; the private
  # instances of hess_dr_dev.instance run real dachs commands anyway.)
  GAVOSETTINGS=/dev/null GAVOCUSTOM=/invalid "$VENV/bin/python" -W ignore -c '
from gavo import api, base
from gavo.user import upgrade
import gammapy, pyvo, hess_dr, hess_dr_dev
print(f"[bootstrap] ok: DaCHS {base.getVersion()} (schema {upgrade.CURRENT_SCHEMAVERSION}),"
      f" gammapy {gammapy.__version__}, pyvo {pyvo.__version__}")'
}

install_packages
start_postgres
ensure_pg_superuser
STAMP="$VENV/.installed-$(cat pyproject.toml dev/pyproject.toml bin/bootstrap.sh | sha1sum | cut -c1-40)"
PIP_RAN=
ensure_venv
venv_dachs_commands
smoke_test
if [ -n "$PIP_RAN" ]; then
  # Stamp only a venv that passed the smoke test, so a failed run is retried.
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
