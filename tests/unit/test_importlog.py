"""hess_dr.importlog: progress and summary of an import."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from hess_dr import config, importlog


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def configuration(tmp_path):
    (tmp_path / "data" / "night").mkdir(parents=True)
    path = tmp_path / "hess_dr.yaml"
    path.write_text("collections:\n  - {name: dr1, data_dir: data, obs_collection: DR1}\n")
    return config.load(path)


def make_log(configuration, clock):
    return importlog.ImportLog(configuration, clock=clock,
                               now=lambda: datetime.datetime(2026, 12, 2, 12, 0, 0))


def test_progress_every_few_seconds_with_rate_and_time_left(configuration, tmp_path):
    clock = Clock()
    log = make_log(configuration, clock)
    log.total = 100
    data = tmp_path / "data" / "night"
    for i in range(10):
        clock.now += 0.25
        log.record(str(data / f"run{i}.fits"), "ok")
        line = log.progress()
        if i < 9:
            assert line is None       # 2.5 s: not due yet
    clock.now += 2.5                   # 5 s since the start, 10 files
    line = log.progress()
    assert line == ("hess_dr: import: 10/100 files (10 %), 2.0 files/s, about 45 s left,"
                    " 10 published, 0 skipped")
    assert log.progress() is None       # just printed


def test_quarters_are_told_however_fast(configuration):
    clock = Clock()
    log = make_log(configuration, clock)
    log.total = 105
    lines = []
    for i in range(105):
        log.record(f"/x/{i}.fits", "ok")
        line = log.progress()
        if line:
            lines.append(line.split(",")[0])
    assert lines == ["hess_dr: import: 27/105 files (26 %)", "hess_dr: import: 53/105 files (50 %)",
                     "hess_dr: import: 79/105 files (75 %)", "hess_dr: import: 105/105 files (100 %)"]
    # a small import only every few seconds
    small = make_log(configuration, clock)
    small.total = 3
    for i in range(3):
        small.record(f"/x/{i}.fits", "ok")
        assert small.progress() is None


def test_total_is_asked_once_when_a_line_is_due(configuration):
    clock = Clock()
    log = make_log(configuration, clock)
    asked = []

    def total():
        asked.append(1)
        return 40

    assert log.progress(total=total) is None
    assert asked == []
    clock.now += 6
    log.record("/elsewhere/x.fits", "ok")
    assert "1/40 files" in log.progress(total=total)
    clock.now += 6
    log.progress(total=total)
    assert asked == [1]


def test_summary_and_report_rows(configuration, tmp_path):
    clock = Clock()
    log = make_log(configuration, clock)
    data = tmp_path / "data"
    good = str(data / "night" / "good.fits.gz")
    broken = str(data / "night" / "broken.fits")
    irf = str(data / "irf.fits")
    log.record(good, "ok", problems=["ALTITUDE 2.2 below 10: kept as metres"])
    clock.now += 1
    log.record(broken, "warning", f"hess_dr: skipped {broken}: not a FITS file")
    clock.now += 1
    log.record(irf, "info", f"hess_dr: not an event list, skipped: {irf}: no EVENTS table")
    log.record_removed("hess_dr/data/gone.fits", str(tmp_path / "inputs"))
    clock.now += 3
    summary = log.summary(published_total=7).split("\n")
    assert summary[0] == ("hess_dr: import summary: 3 file(s) read in 2 s (1.5 files/s):"
                          " 1 published, 1 skipped, 1 not event lists, 1 removed;"
                          " 1 problem(s) noted in 1 published file(s)")
    assert summary[1] == "hess_dr: 7 run(s) published in all"
    assert "hess_dr:   skipped: dr1/night/broken.fits: skipped: not a FITS file" in summary
    assert ("hess_dr:   not an event list: dr1/irf.fits: not an event list, skipped:"
            " the file: no EVENTS table") in summary
    assert "hess_dr:   removed: hess_dr/data/gone.fits: the file is gone" in summary
    # no server path anywhere
    assert str(tmp_path) not in "\n".join(summary)
    row = log.report_row("2026-12-02T12:00:00.000", 7)
    assert {k: row[k] for k in ("files_read", "published", "skipped", "not_event_lists",
                                "removed", "files_with_problems", "problems",
                                "runs_published")} == {
        "files_read": 3, "published": 1, "skipped": 1, "not_event_lists": 1, "removed": 1,
        "files_with_problems": 1, "problems": 1, "runs_published": 7}
    assert row["started"] == datetime.datetime(2026, 12, 2, 12, 0, 0)
    files = log.file_rows("i")
    assert [(f["file"], f["collection"], f["kind"]) for f in files] == [
        ("dr1/night/good.fits.gz", "dr1", "problem"),
        ("dr1/night/broken.fits", "dr1", "skipped"),
        ("dr1/irf.fits", "dr1", "not an event list"),
        ("hess_dr/data/gone.fits", None, "removed")]
    assert files[0]["reason"] == "ALTITUDE 2.2 below 10: kept as metres"


def test_removed_outside_inputs_is_named_by_its_base_name(configuration, tmp_path):
    log = make_log(configuration, Clock())
    existing = tmp_path / "elsewhere.fits"
    existing.write_bytes(b"")
    log.record_removed(str(existing), "/nonexistent-inputs")
    [note] = log.notes
    assert (note.file, note.reason) == ("elsewhere.fits", "below no configured data_dir any more")


def test_the_running_log_is_taken_once(configuration):
    log = importlog.start(configuration)
    assert importlog.current() is log
    assert importlog.take() is log
    assert importlog.current() is None and importlog.take() is None


def test_notes_are_bounded(configuration, monkeypatch):
    monkeypatch.setattr(importlog, "MAX_FILE_ROWS", 3)
    log = make_log(configuration, Clock())
    for i in range(5):
        log.record(f"/x/{i}.fits", "warning", "bad")
    assert len(log.notes) == 3 and log.dropped_notes == 2
    assert log.report_row("i", None)["notes_dropped"] == 2
