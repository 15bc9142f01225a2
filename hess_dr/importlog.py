"""What an import did, told while it runs and kept afterwards.

The import's grammar shim (res/dl3grammar.py) records every source file in
an :class:`ImportLog`: read and published (with the problems noted about
it), skipped (with the reason), not an event list, or removed (a file that
vanished).  While the import runs, :meth:`ImportLog.progress` says how far
it is (files done of the total, files per second, time left) every few
seconds and when it passes a quarter of the files; at its end (q.rd's
``import_report`` data, made after the import in the same process)
:meth:`ImportLog.summary` says what became of the files, and
:meth:`ImportLog.report_row` / :meth:`ImportLog.file_rows` are the rows of
``hess_dr.import_runs`` and ``hess_dr.import_files``, so that the summary
can be queried afterwards.

File names are given relative to their collection's ``data_dir``
(``<collection>/<relative path>``), never as server paths.

This module holds the log of the running import in :func:`current`: the
shim and the report data run in the same ``dachs imp`` process.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import time
from typing import Callable

#: Seconds between two progress messages.
PROGRESS_INTERVAL_S = 5.0
#: Imports of at least this many files also say when they pass each
#: quarter of the files, however fast they are.
QUARTERS_FROM = 20
#: Most per-file rows an import keeps (skipped files first): a
#: broken archive of a million files must not make a million report rows.
MAX_FILE_ROWS = 10_000

#: Kinds of ``hess_dr.import_files`` rows.
SKIPPED, NOT_EVENT_LIST, PROBLEM, REMOVED = "skipped", "not an event list", "problem", "removed"


@dataclasses.dataclass
class FileNote:
    """One line of the per-file report."""

    file: str
    collection: str | None
    kind: str
    reason: str


class ImportLog:
    """Counts and notes of one import.

    Parameters
    ----------
    configuration : hess_dr.config.Config, optional
        Where the collections' data_dirs are (to name files relative to
        them); without it, file names are base names.
    clock : callable
        Monotonic seconds (for rates); replaceable in tests.
    now : callable
        The current UTC time (for the report).
    """

    def __init__(self, configuration=None, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(
                     datetime.timezone.utc).replace(tzinfo=None)):
        self.configuration = configuration
        self._clock = clock
        self.started = now()
        self._now = now
        self._t0 = clock()
        self._t_last = self._t0
        self._last_progress = self._t0
        self._last_quarter = 0
        self.total: int | None = None
        self.done = 0
        self.published = 0
        self.skipped = 0
        self.not_event_lists = 0
        self.with_problems = 0
        self.problems = 0
        self.removed = 0
        self.notes: list[FileNote] = []
        self.dropped_notes = 0
        self.finished: datetime.datetime | None = None

    # ------------------------------------------------------------ naming

    def name(self, path: str) -> tuple[str, str | None]:
        """(``collection/relative path`` or the base name, collection name)."""
        collection = None
        if self.configuration is not None:
            collection = self.configuration.collection_for(path)
        if collection is None:
            return os.path.basename(path), None
        relative = os.path.relpath(os.path.abspath(path), collection.data_dir)
        return f"{collection.name}/{relative}", collection.name

    def _reason(self, path: str, message: str | None) -> str:
        """The message without the server path (the file is named apart)."""
        text = (message or "").strip()
        if text.startswith("hess_dr: "):
            text = text[len("hess_dr: "):]
        for form in {os.path.abspath(path), path}:
            text = text.replace(f"skipped {form}: ", "skipped: ").replace(form, "the file")
        return text

    def _note(self, note: FileNote) -> None:
        if len(self.notes) < MAX_FILE_ROWS:
            self.notes.append(note)
        else:
            self.dropped_notes += 1

    # ------------------------------------------------------------ events

    def record(self, path: str, level: str, message: str | None = None,
               problems=()) -> None:
        """One source file handled: ``level`` as in
        :class:`hess_dr.ingest.Outcome` (``ok``, ``info``, ``warning``)."""
        self.done += 1
        self._t_last = self._clock()
        name, collection = self.name(path)
        if level == "ok":
            self.published += 1
            problems = list(problems)
            if problems:
                self.with_problems += 1
                self.problems += len(problems)
                self._note(FileNote(name, collection, PROBLEM, "; ".join(problems)))
        elif level == "info":
            self.not_event_lists += 1
            self._note(FileNote(name, collection, NOT_EVENT_LIST, self._reason(path, message)))
        else:
            self.skipped += 1
            self._note(FileNote(name, collection, SKIPPED, self._reason(path, message)))

    def record_removed(self, source_path: str, inputs_dir: str) -> None:
        """The rows of a file no longer published were deleted
        (``source_path`` as in hess_dr.obs_index: inputs-relative, or
        absolute for files outside DaCHS's inputs, which are named by their
        base name only)."""
        self.removed += 1
        full = os.path.join(inputs_dir, source_path)
        why = ("the file is gone" if not os.path.exists(full)
               else "below no configured data_dir any more")
        name = os.path.basename(source_path) if os.path.isabs(source_path) else source_path
        self._note(FileNote(name, None, REMOVED, why))

    # ---------------------------------------------------------- progress

    @property
    def elapsed(self) -> float:
        return self._clock() - self._t0

    def progress(self, force: bool = False, total: Callable[[], int | None] | None = None
                 ) -> str | None:
        """A progress line, when the last one is at least
        :data:`PROGRESS_INTERVAL_S` old (or ``force``), else None.

        ``total`` is called once, the first time a line is due, if the total
        is not known yet (listing the files of an incremental import costs a
        directory walk, which a quick import should not pay).
        """
        now = self._clock()
        quarter = self._quarter()
        if not (force or now - self._last_progress >= PROGRESS_INTERVAL_S
                or quarter > self._last_quarter):
            return None
        self._last_progress = now
        if self.total is None and total is not None:
            self.total = total()
        self._last_quarter = self._quarter()
        return self.progress_line()

    def _quarter(self) -> int:
        """How many quarters of the files are done (0 for small imports)."""
        if not self.total or self.total < QUARTERS_FROM:
            return 0
        return min(4, 4 * self.done // self.total)

    def progress_line(self) -> str:
        elapsed = max(self.elapsed, 1e-9)
        rate = self.done / elapsed
        parts = []
        if self.total:
            done = min(self.done, self.total)
            parts.append(f"{done}/{self.total} files ({100 * done / self.total:.0f} %)")
        else:
            parts.append(f"{self.done} files")
        parts.append(f"{rate:.1f} files/s")
        if self.total and rate > 0:
            left = max(self.total - self.done, 0) / rate
            parts.append(f"about {_duration(left)} left")
        parts.append(f"{self.published} published, {self.skipped} skipped")
        return "hess_dr: import: " + ", ".join(parts)

    # ----------------------------------------------------------- summary

    def finish(self) -> None:
        if self.finished is None:
            self.finished = self._now()
            self._t_end = self._clock()

    def summary(self, published_total: int | None = None) -> str:
        """The closing lines of an import (several lines)."""
        self.finish()
        seconds = self._t_last - self._t0
        lines = [f"hess_dr: import summary: {self.done} file(s) read in {_duration(seconds)}"
                 + (f" ({self.done / seconds:.1f} files/s)" if seconds > 0 and self.done else "")
                 + f": {self.published} published, {self.skipped} skipped,"
                 f" {self.not_event_lists} not event lists, {self.removed} removed;"
                 f" {self.problems} problem(s) noted in {self.with_problems} published file(s)"]
        if published_total is not None:
            lines.append(f"hess_dr: {published_total} run(s) published in all")
        if self.notes:
            lines.append("hess_dr: the files skipped, removed or published with problems are"
                         " listed in the table hess_dr.import_files and on the page"
                         " /hess_dr/q/imports/form")
        shown = 0
        for note in self.notes:
            if note.kind == PROBLEM:
                continue
            if shown == 20:
                lines.append(f"hess_dr:   ... and {self.skipped + self.not_event_lists + self.removed - shown}"
                             " more")
                break
            lines.append(f"hess_dr:   {note.kind}: {note.file}: {note.reason}")
            shown += 1
        return "\n".join(lines)

    def report_row(self, import_id: str, published_total: int | None) -> dict:
        """The ``hess_dr.import_runs`` row of this import."""
        self.finish()
        return {"import_id": import_id, "started": self.started, "finished": self.finished,
                "duration": round(self._t_end - self._t0, 3),
                "files_read": self.done, "published": self.published,
                "skipped": self.skipped, "not_event_lists": self.not_event_lists,
                "removed": self.removed, "files_with_problems": self.with_problems,
                "problems": self.problems, "runs_published": published_total,
                "notes_dropped": self.dropped_notes}

    def file_rows(self, import_id: str) -> list[dict]:
        """The ``hess_dr.import_files`` rows of this import."""
        return [{"import_id": import_id, "file": note.file, "collection": note.collection,
                 "kind": note.kind, "reason": note.reason} for note in self.notes]


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


_CURRENT: ImportLog | None = None


def start(configuration=None, **kwargs) -> ImportLog:
    """Begin the log of the import running in this process."""
    global _CURRENT
    _CURRENT = ImportLog(configuration, **kwargs)
    return _CURRENT


def current() -> ImportLog | None:
    """The log of the import running (or just finished) in this process."""
    return _CURRENT


def take() -> ImportLog | None:
    """The log of the import that just finished, forgotten here (a second
    report in the same process must not repeat it)."""
    global _CURRENT
    log, _CURRENT = _CURRENT, None
    return log
