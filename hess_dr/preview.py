"""PNG previews of an event list: a counts map and a one-figure run summary.

Both builders take a run -- a :class:`hess_dr.dl3.Run` just read, or the
:class:`hess_dr.stored.StoredRun` the import stored -- for the metadata
(pointing, target, GTIs, time reference) and read its events as the run's
:class:`~hess_dr.layout.Layout` says, through :class:`hess_dr.events.
EventTable` (the columns and energy unit the import and the cutouts use;
from the event cache when there).  They return the PNG as bytes.

Rendering uses matplotlib's object-oriented API only
(:class:`matplotlib.figure.Figure` drawn by
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`): no pyplot, no
global figure manager, and no ``matplotlib.use()``, so importing this
module never changes the backend a process has chosen.  Matplotlib keeps
some process-wide caches (fonts, text layout), so the drawing itself is
serialised by a module lock; a web server may call the builders from any
thread.

Previews are cached on disk by :func:`cached_png`, keyed by the sha256 of the
event file (:func:`run_key`: the one the import computed while the file is
unchanged, else :func:`file_key`): a changed file gets a new preview, and
concurrent requests for the same preview are safe (atomic writes)::

    from hess_dr import preview

    png, from_cache = preview.cached_preview(run, "preview-image", cache_dir)
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from pathlib import Path
from typing import Callable

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from . import files
from .events import EventsError, EventTable, fill_cache, open_fits

__all__ = ["counts_map_png", "run_summary_png", "cached_png", "cached_preview",
           "file_key", "run_key", "cache_path", "read_events", "BUILDERS", "PNG_SIGNATURE"]

#: The first eight bytes of every PNG file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Side of the counts map (deg) and its pixel size (deg).
MAP_WIDTH_DEG = 5.0
MAP_PIXEL_DEG = 0.04
#: Widest counts map (deg) drawn around a survey run's region (TAN projection).
MAX_MAP_WIDTH_DEG = 100.0

_DPI = 100
# matplotlib shares font and text-layout caches between figures.
_RENDER_LOCK = threading.Lock()
_KEY_PATTERN = re.compile(r"^[0-9a-f]{8,128}$")
_KIND_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


# --------------------------------------------------------------------------
# reading the events
# --------------------------------------------------------------------------

class _Events:
    """The columns the previews need, as plain float arrays (may be empty).

    ``ra``/``dec`` are None when the file has no RA/DEC columns.
    """

    def __init__(self, time, energy_tev, ra, dec):
        self.time = time
        self.energy_tev = energy_tev
        self.ra = ra
        self.dec = dec

    def __len__(self):
        return len(self.time)


def read_events(run, cache=None) -> "_Events":
    """What the previews draw: TIME (MET), ENERGY (TeV), RA/DEC (deg, None
    without positions) of every event, read as the run's layout says (the
    energy unit the import decided; from the event cache when there)."""
    return _read_events(run, cache)


def _read_events(run, cache=None) -> _Events:
    table = cache.load(run.layout) if cache is not None else None
    if table is None:
        hdus, data, _ = open_fits(run.path)
        with hdus:
            table = EventTable.from_hdulist(hdus, run.layout)
            if cache is not None:
                try:
                    fill_cache(cache, hdus, data, run.layout)
                except (OSError, ValueError, KeyError, EventsError):
                    pass
            return _events_of(table)
    return _events_of(table)


def _events_of(table: EventTable) -> _Events:
    n = len(table)
    time = _optional(table, "TIME")
    energy = table.energy_tev() if table.has("ENERGY") else None
    ra, dec = _optional(table, "RA"), _optional(table, "DEC")
    if ra is None or dec is None:
        ra = dec = None
    return _Events(time=np.full(n, np.nan) if time is None else time,
                   energy_tev=np.full(n, np.nan) if energy is None else energy, ra=ra, dec=dec)


def _optional(table: EventTable, quantity: str):
    """A column's values, or None when the file has none or it is unusable."""
    if not table.has(quantity):
        return None
    try:
        return table.values(quantity)
    except EventsError:
        return None


# --------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------

def _target(run) -> str:
    return run.target_name or run.object_name or "unknown target"


def _date(run) -> str:
    try:
        return run.t_start.utc.strftime("%Y-%m-%d %H:%M UTC")
    except Exception:  # a time astropy cannot convert to UTC: print as is
        return str(run.date_obs or "date unknown")


def _title(run) -> str:
    return f"OBS_ID {run.obs_id}  \N{EM DASH}  {_target(run)}  \N{EM DASH}  {_date(run)}"


def _has_pointing(run) -> bool:
    return (run.ra_pnt is not None and run.dec_pnt is not None
            and np.isfinite(run.ra_pnt) and np.isfinite(run.dec_pnt))


def _has_target(run) -> bool:
    return (run.ra_obj is not None and run.dec_obj is not None
            and np.isfinite(run.ra_obj) and np.isfinite(run.dec_obj))


def _inside(wcs, npix: int, ra: float, dec: float) -> bool:
    x, y = wcs.wcs_world2pix([ra], [dec], 0)
    return bool(-0.5 <= x[0] <= npix - 0.5 and -0.5 <= y[0] <= npix - 0.5)


def _note(ax, text, **kwargs):
    """A large centred message in axes coordinates."""
    style = dict(ha="center", va="center", fontsize=14, color="0.3",
                 transform=ax.transAxes,
                 bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.6", alpha=0.9))
    style.update(kwargs)
    ax.text(0.5, 0.5, text, **style)


def _to_png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _mean_position(ra, dec):
    """Mean direction of finite positions (deg), or None."""
    good = np.isfinite(ra) & np.isfinite(dec)
    if not good.any():
        return None
    lon, lat = np.radians(ra[good]), np.radians(dec[good])
    x = np.mean(np.cos(lat) * np.cos(lon))
    y = np.mean(np.cos(lat) * np.sin(lon))
    z = np.mean(np.sin(lat))
    return (float(np.degrees(np.arctan2(y, x)) % 360.0),
            float(np.degrees(np.arctan2(z, np.hypot(x, y)))))


# --------------------------------------------------------------------------
# counts map
# --------------------------------------------------------------------------

def _map_wcs(ra0: float, dec0: float, width_deg: float, pixel_deg: float):
    npix = max(int(round(width_deg / pixel_deg)), 2)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra0, dec0]
    wcs.wcs.crpix = [(npix + 1) / 2.0, (npix + 1) / 2.0]
    wcs.wcs.cdelt = [-pixel_deg, pixel_deg]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.radesys = "ICRS"
    return wcs, npix


def counts_map_png(run, width_deg: float = MAP_WIDTH_DEG,
                   pixel_deg: float = MAP_PIXEL_DEG, cache=None) -> bytes:
    """Counts map of a run's events in sky coordinates, as PNG bytes.

    A gnomonic (TAN) image centred on the pointing position (for runs
    without a pointing, e.g. survey data, on the mean event direction), with
    RA/Dec axes and grid, the pointing (+) and the target position (o)
    marked, a colour bar in counts per pixel and a title with the OBS_ID,
    target and start date.

    Parameters
    ----------
    run : hess_dr.dl3.Run or hess_dr.stored.StoredRun
        The run; its events are read from ``run.path`` as ``run.layout``
        says.
    width_deg : float
        Side of the square map in degrees.
    pixel_deg : float
        Pixel size in degrees.
    cache : hess_dr.events.EventCache, optional
        Where the run's decompressed events are kept.

    Returns
    -------
    bytes
        A PNG image (about 760 x 640 pixels).  Runs without events give a
        valid PNG saying "no events".
    """
    events = _read_events(run, cache)
    with _RENDER_LOCK:
        return _counts_map(run, events, width_deg, pixel_deg)


def _counts_map(run, events: _Events, width_deg: float, pixel_deg: float) -> bytes:
    messages = []
    has_positions = events.ra is not None and len(events) > 0
    footprint = getattr(run, "footprint", None)
    if _has_pointing(run):
        centre = (float(run.ra_pnt), float(run.dec_pnt))
    elif footprint is not None and 2 * footprint.radius < MAX_MAP_WIDTH_DEG:
        # survey data with a known region (the file's ROI, or the circle
        # holding the events): show all of it, with as many pixels
        centre = (footprint.ra, footprint.dec)
        if 2.2 * footprint.radius > width_deg:
            pixel_deg *= 2.2 * footprint.radius / width_deg
            width_deg = 2.2 * footprint.radius
        messages.append("no pointing position: map of the "
                        + ("file's region of interest" if footprint.origin == "file-roi"
                           else "region holding the events"))
    else:
        centre = _mean_position(events.ra, events.dec) if has_positions else None
        if centre is not None:
            messages.append("no pointing position: map centred on the mean event direction")
        elif _has_target(run):
            centre = (float(run.ra_obj), float(run.dec_obj))
            messages.append("no pointing position: map centred on the target")
        else:
            centre = (0.0, 0.0)
            messages.append("no pointing position")
    wcs, npix = _map_wcs(centre[0], centre[1], width_deg, pixel_deg)

    image = np.zeros((npix, npix))
    outside = 0
    if has_positions:
        good = np.isfinite(events.ra) & np.isfinite(events.dec)
        x, y = wcs.wcs_world2pix(events.ra[good], events.dec[good], 0)
        edges = np.arange(npix + 1) - 0.5
        image, _, _ = np.histogram2d(y, x, bins=(edges, edges))
        outside = int(good.sum() - image.sum())
    problem = None
    if len(events) == 0:
        problem = "no events"
    elif events.ra is None:
        problem = "no event positions (RA/DEC) in the file"

    fig = Figure(figsize=(7.6, 6.4), dpi=_DPI)
    ax = fig.add_subplot(1, 1, 1, projection=wcs)
    vmax = max(float(image.max()), 1.0)
    shown = ax.imshow(image, origin="lower", cmap="inferno",
                      norm=PowerNorm(0.5, vmin=0.0, vmax=vmax), interpolation="nearest")
    colorbar = fig.colorbar(shown, ax=ax, pad=0.02, fraction=0.05)
    colorbar.set_label(f"counts / pixel ({pixel_deg:g}\N{DEGREE SIGN} "
                       f"\N{MULTIPLICATION SIGN} {pixel_deg:g}\N{DEGREE SIGN})")
    ax.coords[0].set_axislabel("Right ascension (ICRS)")
    ax.coords[1].set_axislabel("Declination (ICRS)")
    ax.coords[0].set_major_formatter("hh:mm")
    ax.coords[1].set_major_formatter("dd:mm")
    ax.coords.grid(color="white", alpha=0.25, linestyle="solid")
    world = ax.get_transform("icrs")
    if _has_pointing(run):
        ax.plot(run.ra_pnt, run.dec_pnt, marker="+", color="cyan", markersize=16,
                markeredgewidth=2, linestyle="none", transform=world, label="pointing")
    if _has_target(run) and _inside(wcs, npix, run.ra_obj, run.dec_obj):
        ax.plot(run.ra_obj, run.dec_obj, marker="o", markerfacecolor="none",
                markeredgecolor="lime", markersize=14, markeredgewidth=1.5,
                linestyle="none", transform=world, label=f"target ({_target(run)})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=9, framealpha=0.8)
    ax.set_xlim(-0.5, npix - 0.5)
    ax.set_ylim(-0.5, npix - 0.5)
    summary = f"{len(events)} events"
    if outside:
        summary += f" ({outside} outside the map)"
    # in a corner, so that the data stay visible
    ax.text(0.02, 0.02, "\n".join([summary, *messages]), transform=ax.transAxes,
            color="white", fontsize=9, ha="left", va="bottom",
            bbox=dict(boxstyle="round", facecolor="black", edgecolor="0.5", alpha=0.6))
    if problem:
        _note(ax, problem, fontsize=16)
    fig.suptitle(_title(run) + "\ncounts map", fontsize=11)
    return _to_png(fig)


# --------------------------------------------------------------------------
# run summary
# --------------------------------------------------------------------------

def run_summary_png(run, cache=None) -> bytes:
    """One figure summarising a run, as PNG bytes.

    Three panels: the distribution of reconstructed energies (log bins,
    log-log axes, TeV; the safe energy threshold dashed when known), the
    distribution of event offsets from the pointing position (deg; a
    message when the run has no pointing) and the event rate (counts/s)
    over time in minutes from the run start, with the good time intervals
    shaded.  Title: OBS_ID, target, start date.

    Parameters
    ----------
    run : hess_dr.dl3.Run or hess_dr.stored.StoredRun
        The run; its events are read from ``run.path`` as ``run.layout``
        says.
    cache : hess_dr.events.EventCache, optional

    Returns
    -------
    bytes
        A PNG image (about 1500 x 450 pixels).  Runs without events give a
        valid PNG saying "no events" in each panel.
    """
    events = _read_events(run, cache)
    with _RENDER_LOCK:
        return _run_summary(run, events)


def _run_summary(run, events: _Events) -> bytes:
    fig = Figure(figsize=(15, 4.6), dpi=_DPI)
    axes = fig.subplots(1, 3)
    _energy_panel(axes[0], run, events)
    _offset_panel(axes[1], run, events)
    _rate_panel(axes[2], run, events)
    fig.suptitle(_title(run) + f"  \N{EM DASH}  {len(events)} events", fontsize=12)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.85, wspace=0.25)
    return _to_png(fig)


def _energy_panel(ax, run, events: _Events):
    ax.set_title("Energy distribution", fontsize=11)
    ax.set_xlabel("reconstructed energy [TeV]")
    ax.set_ylabel("events per bin")
    energy = events.energy_tev[np.isfinite(events.energy_tev) & (events.energy_tev > 0)]
    if len(energy) == 0:
        _note(ax, "no events" if len(events) == 0 else "no valid energies")
        return
    # 10 bins per decade, on the decade grid, so that runs compare bin by bin
    lo = np.floor(np.log10(energy.min()) * 10) / 10
    hi = np.ceil(np.log10(energy.max()) * 10 + 1e-9) / 10
    bins = 10 ** np.arange(lo, hi + 0.05, 0.1)
    ax.hist(energy, bins=bins, histtype="stepfilled", color="tab:blue", alpha=0.7,
            edgecolor="tab:blue")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if run.safe_energy_lo is not None:
        threshold = float(run.safe_energy_lo.to_value(u.TeV))
        ax.axvline(threshold, color="tab:red", linestyle="--",
                   label=f"safe threshold {threshold:.2g} TeV")
        ax.legend(fontsize=9)
    ax.grid(True, which="major", alpha=0.3)


def _offset_panel(ax, run, events: _Events):
    ax.set_title("Offset from the pointing position", fontsize=11)
    ax.set_xlabel("offset [deg]")
    ax.set_ylabel("events per 0.1\N{DEGREE SIGN}")
    if not _has_pointing(run):
        _note(ax, "no pointing position")
        return
    if len(events) == 0:
        _note(ax, "no events")
        return
    if events.ra is None:
        _note(ax, "no event positions")
        return
    good = np.isfinite(events.ra) & np.isfinite(events.dec)
    pointing = SkyCoord(run.ra_pnt * u.deg, run.dec_pnt * u.deg)
    offset = pointing.separation(SkyCoord(events.ra[good] * u.deg,
                                          events.dec[good] * u.deg)).deg
    # A few misreconstructed events lie far outside the field of view:
    # show the bulk, count the rest.
    top = max(np.ceil(np.percentile(offset, 99.5) * 2) / 2, 0.5) if len(offset) else 1.0
    ax.hist(offset, bins=np.arange(0, top + 0.05, 0.1), histtype="stepfilled",
            color="tab:orange", alpha=0.7, edgecolor="tab:orange")
    ax.set_xlim(0, top)
    beyond = int(np.sum(offset > top))
    if beyond:
        ax.text(0.98, 0.96, f"{beyond} events beyond {top:g}\N{DEGREE SIGN}",
                transform=ax.transAxes, ha="right", va="top", fontsize=9)
    ax.grid(True, alpha=0.3)


def _rate_panel(ax, run, events: _Events):
    start = run.tstart
    try:
        origin = run.t_start.utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    except Exception:
        origin = "run start"
    ax.set_title("Event rate (good time intervals shaded)", fontsize=11)
    ax.set_xlabel(f"minutes since {origin}")
    ax.set_ylabel("rate [counts/s]")
    gti = run.gti
    if len(gti):
        spans = [((a - start) / 60.0, (b - a) / 60.0)
                 for a, b in zip(gti.start_met, gti.stop_met)]
        ax.broken_barh(spans, (0, 1), transform=ax.get_xaxis_transform(),
                       facecolor="tab:green", alpha=0.15, label="GTI")
    stop = max(run.tstop, float(np.max(gti.stop_met)) if len(gti) else run.tstop)
    times = events.time[np.isfinite(events.time)]
    if len(times):
        stop = max(stop, float(times.max()))
        first = min(start, float(times.min()))
    else:
        first = start
    duration = max(stop - first, 1.0)
    width = max(10.0, float(np.ceil(duration / 40.0 / 10.0) * 10.0))  # ~40 bins, 10 s steps
    # the last bin ends at the run end: rates stay rates in a partial bin
    edges = np.append(first + np.arange(0.0, duration, width), first + duration)
    if len(times):
        counts, _ = np.histogram(times, bins=edges)
        rate = counts / np.diff(edges)
        ax.stairs(rate, (edges - start) / 60.0, color="tab:blue", linewidth=1.5,
                  label=f"events ({width:g} s bins)")
        ax.set_ylim(0, max(rate.max() * 1.2, 0.1))
    else:
        ax.set_ylim(0, 1)
        _note(ax, "no events" if len(events) == 0 else "no event times")
    ax.set_xlim((first - start) / 60.0, (edges[-1] - start) / 60.0)
    ax.legend(fontsize=9, loc="lower right")
    ax.grid(True, alpha=0.3)


# --------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------

#: Preview kinds (the DataLink PRODUCT names of hess_dr.links) -> builder.
BUILDERS: dict[str, Callable] = {"preview-image": counts_map_png,
                                 "preview-plot": run_summary_png}


def file_key(path: str | os.PathLike) -> str:
    """The sha256 (hex) of a file's content: the cache key of its previews."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_key(run) -> str:
    """The preview cache key of a run's file: the sha256 the import stored
    when the file is unchanged since, else :func:`file_key`."""
    layout = getattr(run, "layout", None)
    if layout is not None and layout.stamp is not None and layout.stamp.sha256 \
            and layout.current(run.path):
        return layout.stamp.sha256
    return file_key(run.path)


def cache_path(cache_dir, key: str, kind: str) -> Path:
    if not _KEY_PATTERN.match(key):
        raise ValueError(f"invalid preview cache key {key!r} (expected a hex digest)")
    if not _KIND_PATTERN.match(kind):
        raise ValueError(f"invalid preview kind {kind!r}")
    return Path(cache_dir) / key[:2] / f"{key}-{kind}.png"


def cached_png(cache_dir: str | os.PathLike, key: str, kind: str,
               builder: Callable[[], bytes]) -> tuple[bytes, bool]:
    """Return a PNG from the file cache, building and storing it if needed.

    The file is ``<cache_dir>/<key[:2]>/<key>-<kind>.png``.  It is written
    to a temporary file in the same directory and moved into place with
    :func:`os.replace`, so a concurrent reader sees either no file or a
    complete one; two concurrent builders simply both build, and the last
    rename wins with identical content.

    Parameters
    ----------
    cache_dir : path-like
        Root of the cache (created if missing).
    key : str
        Hex digest identifying the source, normally :func:`file_key` of the
        event file.
    kind : str
        Which preview (e.g. ``"preview-image"``); letters, digits, ``-``, ``_``.
    builder : callable
        Called without arguments on a cache miss; returns the PNG bytes.

    Returns
    -------
    (bytes, bool)
        The PNG and whether it came from the cache.

    Raises
    ------
    ValueError
        If ``key`` or ``kind`` could escape the cache directory, or the
        builder did not return PNG bytes.
    """
    path = cache_path(cache_dir, key, kind)
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    if data.startswith(PNG_SIGNATURE):
        return data, True
    data = builder()
    if not isinstance(data, (bytes, bytearray)) or not bytes(data).startswith(PNG_SIGNATURE):
        raise ValueError(f"preview builder for {kind!r} did not return a PNG")
    data = bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_bytes_atomically(path, data)
    return data, False


def cached_preview(run, kind: str, cache_dir: str | os.PathLike) -> tuple[bytes, bool]:
    """A run's preview through the cache: ``cached_png`` with the file's sha256.

    Parameters
    ----------
    run : hess_dr.dl3.Run
    kind : str
        A key of :data:`BUILDERS` (``"preview-image"`` or ``"preview-plot"``).
    cache_dir : path-like

    Returns
    -------
    (bytes, bool)
        The PNG and whether it came from the cache.
    """
    if kind not in BUILDERS:
        raise ValueError(f"unknown preview kind {kind!r}; use one of {sorted(BUILDERS)}")
    builder = BUILDERS[kind]
    return cached_png(cache_dir, run_key(run), kind, lambda: builder(run))
