"""Who may read a run's data, and from when: the one place deciding access.

Metadata are public (ObsCore, hess_dr.obs_index, the GTIs); the data of a
run -- the file, its IRFs, bundles, previews, cutouts, analyses -- are
readable by anyone once the run is released, and before that only by the
members of its owner group.

The operator configures, per collection (:mod:`hess_dr.config`), an owner
group and a release rule: a fixed date, or a proprietary period after each
run's observation date (``1 year``, ``18 months``, ``90 days``), with
per-run overrides.  The import turns the rule into each run's owner and
release date (:func:`run_rights`) and stores them; every request compares
the stored date with today (:func:`check`), so a run becomes public on its
release date without a re-import.

Semantics, shared by every path:

* a run without an owner is public;
* a run with an owner is proprietary before its release date (a date, the
  first public day, UTC) and public from then on; with an owner and no
  release date it stays proprietary;
* DaCHS's products table holds the last proprietary day as its ``embargo``
  (:func:`products_embargo`): DaCHS serves a product when ``embargo <
  today``, which is the same rule.
"""
from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Iterable

from dateutil.relativedelta import relativedelta

#: ObsCore data_rights values.
PUBLIC, PROPRIETARY = "public", "proprietary"

_PERIOD = re.compile(r"^\s*(\d+)\s*(year|month|week|day)s?\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Period:
    """A proprietary period after a run's observation date (calendar
    arithmetic: 1 year after 2004-02-29 is 2005-02-28).

    Parameters
    ----------
    count : int
    unit : str
        ``year``, ``month``, ``week`` or ``day``.
    """

    count: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> "Period":
        """A period from text such as ``1 year``, ``18 months``, ``90 days``.

        Raises
        ------
        ValueError
            If the text is not ``<count> <unit>``.
        """
        match = _PERIOD.match(text)
        if not match:
            raise ValueError(f"{text!r} is neither an ISO date nor a period such as"
                             " '1 year', '18 months', '90 days'")
        return cls(int(match.group(1)), match.group(2).lower())

    def after(self, date: datetime.date) -> datetime.date:
        """The date ``self`` after ``date``."""
        return date + relativedelta(**{f"{self.unit}s": self.count})

    def __str__(self):
        return f"{self.count} {self.unit}{'s' if self.count != 1 else ''}"


#: A release rule: the first public day, or a period after the observation.
Release = datetime.date | Period


def parse_release(value) -> Release:
    """A release rule from a configuration value: an ISO date (YAML may
    give it as a date already) or a :class:`Period`.

    Raises
    ------
    ValueError
        With a message saying what is accepted.
    """
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is neither an ISO date nor a period such as '1 year'")
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        return Period.parse(value)


@dataclasses.dataclass(frozen=True)
class RunRights:
    """Owner and release of one run (an override, or a collection's rule).

    ``None`` fields of an override fall back to the collection's.
    """

    owner: str | None = None
    release: Release | None = None


def release_date(release: Release | None, observed: datetime.date | None
                 ) -> datetime.date | None:
    """The first public day of a run observed on ``observed``."""
    if release is None:
        return None
    if isinstance(release, Period):
        if observed is None:  # no observation date: the period cannot start
            return None
        return release.after(observed)
    return release


def run_rights(collection_rights: RunRights, override: RunRights | None,
               observed: datetime.date | None) -> tuple[str | None, datetime.date | None]:
    """(owner group, first public day) of a run.

    Parameters
    ----------
    collection_rights : RunRights
        The collection's owner and release rule.
    override : RunRights or None
        The run's own entry (``runs``/``runs_file`` of the configuration).
    observed : datetime.date or None
        The run's observation date (UTC), the start of a proprietary period.

    Returns
    -------
    tuple
        ``(None, None)`` for a public run; ``(owner, None)`` for a run
        proprietary without end.
    """
    owner, release = collection_rights.owner, collection_rights.release
    if override is not None:
        owner = override.owner or owner
        if override.release is not None:
            release = override.release
    if owner is None:
        return None, None
    return owner, release_date(release, observed)


def stored_release(value) -> datetime.date | None:
    """The first public day from what the import stored
    (``obs_index.obs_release_date``, a timestamp at 00:00 UTC)."""
    return value.date() if isinstance(value, datetime.datetime) else value


def is_public(owner: str | None, release: datetime.date | None,
              today: datetime.date | None = None) -> bool:
    """Whether a run's data are readable by anyone on ``today``."""
    if owner is None:
        return True
    return release is not None and release <= (today or utc_today())


def data_rights(owner: str | None, release: datetime.date | None,
                today: datetime.date | None = None) -> str:
    """ObsCore ``data_rights`` of a run: ``public`` or ``proprietary``."""
    return PUBLIC if is_public(owner, release, today) else PROPRIETARY


def products_embargo(owner: str | None, release: datetime.date | None
                     ) -> datetime.date | None:
    """DaCHS's products ``embargo`` (last proprietary day) for a run."""
    if owner is None:
        return None
    if release is None:
        return datetime.date.max
    return release - datetime.timedelta(days=1)


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()


# ------------------------------------------------------------- decisions

class AccessDenied(Exception):
    """A request for proprietary data the requester may not read.

    Attributes
    ----------
    http_status : int
        401 (not authenticated) or 403 (authenticated, not in the group).
    fault : str
        The DataLink/DALI fault name.
    """

    http_status = 403
    fault = "AuthorizationFault"

    @property
    def dali_message(self) -> str:
        return f"{self.fault}: {self}"


class NotAuthenticated(AccessDenied):
    http_status = 401
    fault = "AuthenticationFault"


class NotAuthorized(AccessDenied):
    http_status = 403
    fault = "AuthorizationFault"


@dataclasses.dataclass(frozen=True)
class Requester:
    """Who asks: a user whose password was checked and their groups, or
    nobody (``user`` None: anonymous, or a password that did not match)."""

    user: str | None = None
    groups: frozenset = frozenset()

    @classmethod
    def anonymous(cls) -> "Requester":
        return cls()


def _until(release: datetime.date | None) -> str:
    return f"until {release.isoformat()}" if release else "with no release date set"


def denial(owner: str | None, release: datetime.date | None, requester: Requester,
           today: datetime.date | None = None) -> AccessDenied | None:
    """Why ``requester`` may not read a run's data, or None if they may.

    Anonymous requesters get :class:`NotAuthenticated` (answered with 401
    and a challenge), authenticated users outside the owner group
    :class:`NotAuthorized` (403).
    """
    if is_public(owner, release, today):
        return None
    if requester.user is None:
        return NotAuthenticated(
            f"proprietary data {_until(release)}: log in as a member of group {owner}")
    if owner in requester.groups:
        return None
    return NotAuthorized(
        f"proprietary data {_until(release)}: user {requester.user} is not in group {owner}")


def check(owner: str | None, release: datetime.date | None, requester: Requester,
          today: datetime.date | None = None) -> None:
    """Raise the :func:`denial` for ``requester``, if any."""
    refused = denial(owner, release, requester, today)
    if refused is not None:
        raise refused


def readable(runs: Iterable, requester: Requester, today: datetime.date | None = None):
    """The runs (objects with ``owner`` and ``release`` attributes) that
    ``requester`` may read."""
    return [run for run in runs
            if denial(run.owner, run.release, requester, today) is None]
