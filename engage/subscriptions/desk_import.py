"""Importing a CSV file from the desk, in steps: upload, map columns, preview, run as a job.

The upload waits between steps in the instance folder under a random name (never in the
session cookie, which would carry addresses to and from the browser); it is deleted once its
rows are in an ImportJob, when the editor abandons it, or by the sweep on the next upload
once it is older than UPLOAD_TTL. The job runs on a worker with the API's rules
(`importing.run_import_job`); the desk adds only the reading of the file, the mapping and the
editor's file-wide choice between confirmed readers (with consent evidence) and sign-ups.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.core.spreadsheet import safe_cell
from engage.subscriptions import importing
from engage.types import utcnow

#: Engage fields a column can fill, and their labels; only `email` is required.
FIELDS = (
    ("email", "Email address"),
    ("topics", "Topics (slugs, separated by spaces, commas or semicolons)"),
    ("digest", "Digest frequency (off, weekly or daily)"),
    ("consented_at", "When they consented (date and time with offset)"),
)
#: Header names (lowercase, without spaces, dashes or underscores) each field is guessed from.
GUESSES = {
    "email": {"email", "emailaddress", "mail", "address", "e-mail"},
    "topics": {"topics", "topic", "lists", "list", "interests"},
    "digest": {"digest", "digestfrequency", "frequency"},
    "consented_at": {"consentedat", "consentdate", "consenttime", "optintime", "optedin"},
}
PREVIEW_ROWS = 10
UPLOAD_TTL = timedelta(hours=24)
UPLOAD_FOLDER = "imports"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
_SNIFF_BYTES = 16_384


class ImportFileError(ValueError):
    """The file cannot be imported; the message says why, fit to show the editor."""


@dataclass(frozen=True)
class CsvFile:
    header: list[str]
    rows: list[list[str]]


def read_csv(data: bytes) -> CsvFile:
    """The header and rows of an uploaded CSV: UTF-8 (with or without a BOM), columns separated
    by commas or semicolons. Raises ImportFileError with a message for anything else."""
    if b"\x00" in data:
        raise ImportFileError(
            "The file holds NUL bytes: it is not a CSV text file. Export it from your "
            "spreadsheet as “CSV UTF-8” and try again."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."
        ) from None
    if not text.strip():
        raise ImportFileError("The file is empty.")
    first_line = text.lstrip().splitlines()[0]
    try:
        dialect = csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters=",;")
    except csv.Error:
        if "\t" in first_line or "|" in first_line:
            raise ImportFileError(
                "The columns are separated by tabs or another character: separate them with "
                "commas or semicolons (save as “CSV UTF-8”) and try again."
            ) from None
        dialect = csv.excel  # one column (or one line): nothing to detect
    try:
        lines = [
            row
            for row in csv.reader(io.StringIO(text, newline=""), dialect)
            if any(cell.strip() for cell in row)
        ]
    except csv.Error:
        raise ImportFileError("The file is not a CSV file we can read.") from None
    header = [cell.strip() for cell in lines[0]]
    rows = lines[1:]
    if not rows:
        raise ImportFileError("The file has a header line but no rows.")
    if len(rows) > importing.MAX_ROWS:
        raise ImportFileError(
            f"The file has more than {importing.MAX_ROWS:,} rows: split it and import the "
            "parts one after the other."
        )
    return CsvFile(header, rows)


# --- the upload between steps -------------------------------------------------------------------


def _folder(instance_path: str) -> Path:
    folder = Path(instance_path) / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(instance_path: str, token: str) -> Path | None:
    if not _TOKEN.fullmatch(token or ""):
        return None  # never a path from the request
    return _folder(instance_path) / f"{token}.csv"


def save_upload(instance_path: str, data: bytes) -> str:
    """Keep an upload that `read_csv` accepted; returns its random token. Sweeps old ones."""
    sweep_uploads(instance_path)
    token = secrets.token_urlsafe(32)
    path = _path(instance_path, token)
    path.write_bytes(data)
    return token


def load_upload(instance_path: str, token: str) -> CsvFile | None:
    """The kept upload, or None when there is none by that token (imported, abandoned, swept)."""
    path = _path(instance_path, token)
    if path is None or not path.is_file():
        return None
    try:
        return read_csv(path.read_bytes())
    except ImportFileError:
        return None


def delete_upload(instance_path: str, token: str) -> None:
    path = _path(instance_path, token)
    if path is not None:
        path.unlink(missing_ok=True)


def sweep_uploads(instance_path: str, now: datetime | None = None) -> int:
    """Delete uploads older than UPLOAD_TTL (abandoned half-way); returns how many."""
    cutoff = (now or utcnow()).timestamp() - UPLOAD_TTL.total_seconds()
    removed = 0
    for path in _folder(instance_path).glob("*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another request swept it first
            continue
    return removed


# --- mapping ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMapping:
    """Which column (by position) fills each field, and the editor's file-wide consent answer."""

    columns: dict[str, int | None]
    confirmed: bool = False
    source: str = ""
    text: str = ""


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.lower())


def guess_columns(header: list[str]) -> dict[str, int | None]:
    """The column each field most likely comes from, by its header name; None when unsure."""
    squashed = [_squash(name) for name in header]
    guessed: dict[str, int | None] = {}
    for field, _label in FIELDS:
        guessed[field] = next(
            (i for i, name in enumerate(squashed) if name in GUESSES[field]), None
        )
    if guessed["email"] is None:  # "Work email", "E-mail (private)"…
        guessed["email"] = next((i for i, name in enumerate(squashed) if "mail" in name), None)
    return guessed


def parse_mapping(form: Mapping[str, str], header: list[str]) -> tuple[ColumnMapping, dict]:
    """The mapping the editor chose, and the errors in it by field name (empty when fine)."""
    errors: dict[str, str] = {}
    columns: dict[str, int | None] = {}
    for field, _label in FIELDS:
        raw = (form.get(f"map-{field}") or "").strip()
        if not raw:
            columns[field] = None
        elif raw.isdigit() and int(raw) < len(header):
            columns[field] = int(raw)
        else:
            columns[field] = None
            errors[f"map-{field}"] = "Choose a column from the list."
    if columns["email"] is None and "map-email" not in errors:
        errors["map-email"] = "Choose the column that holds the email addresses."
    answer = (form.get("confirmed") or "").strip()
    if answer not in ("yes", "no"):
        errors["confirmed"] = "Say whether these readers have already confirmed."
    source = (form.get("consent_source") or "").strip()
    text = (form.get("consent_text") or "").strip()
    if answer == "yes":
        if not source:
            errors["consent_source"] = "Say where they consented (a form, a page, an event)."
        elif len(source) > importing.MAX_SOURCE or importing.has_control_characters(source):
            errors["consent_source"] = (
                f"Keep it to one line of at most {importing.MAX_SOURCE} characters."
            )
        if not text:
            errors["consent_text"] = "Give the text they agreed to."
        elif len(text) > importing.MAX_CONSENT_TEXT or importing.has_control_characters(
            text, multiline=True
        ):
            errors["consent_text"] = (
                f"Keep it to at most {importing.MAX_CONSENT_TEXT:,} characters of plain text."
            )
        if columns["consented_at"] is None and "map-consented_at" not in errors:
            errors["map-consented_at"] = (
                "Confirmed readers need the column that says when each of them consented."
            )
    return ColumnMapping(columns, answer == "yes", source, text), errors


def mapping_fields(mapping: ColumnMapping) -> dict[str, str]:
    """The mapping as form fields, to carry it from the preview to the start of the import."""
    fields = {f"map-{f}": "" if i is None else str(i) for f, i in mapping.columns.items()}
    fields["confirmed"] = "yes" if mapping.confirmed else "no"
    if mapping.confirmed:
        fields["consent_source"] = mapping.source
        fields["consent_text"] = mapping.text
    return fields


@dataclass(frozen=True)
class MappedRow:
    line: int  # as a spreadsheet numbers it: the header is line 1
    values: dict[str, str]  # field → the cell it comes from
    row: importing.ImportRow | None
    reason: str | None  # why it cannot even be read into an ImportRow


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def map_rows(csv_file: CsvFile, mapping: ColumnMapping, limit: int | None = None):
    """The file's rows as the import will see them."""
    for position, cells in enumerate(csv_file.rows[:limit]):
        values = {field: _cell(cells, index) for field, index in mapping.columns.items()}
        reason = None
        row = None
        consent = None
        if mapping.confirmed:
            when = None
            with contextlib.suppress(ValueError):
                when = datetime.fromisoformat(values["consented_at"])
            if when is None or when.tzinfo is None:
                reason = (
                    "The consent date must be a date and time with its offset, e.g. "
                    "2024-05-01T09:30:00+02:00."
                )
            consent = importing.ConsentEvidence(mapping.source, mapping.text, when)
        if reason is None:
            topics = values["topics"].replace(";", " ").replace(",", " ").split()
            row = importing.ImportRow(
                email=values["email"],
                topics=topics or None,
                digest=values["digest"] or None,
                confirmed=mapping.confirmed,
                consent=consent,
            )
        yield MappedRow(position + 2, values, row, reason)


def preview(session: Session, csv_file: CsvFile, mapping: ColumnMapping) -> list[MappedRow]:
    """The first PREVIEW_ROWS rows with the reason each would be rejected, decided by the
    importer itself against the database inside a savepoint that is rolled back: nothing is
    written and no email is queued."""
    mapped = list(map_rows(csv_file, mapping, PREVIEW_ROWS))
    readable = [m for m in mapped if m.row is not None]
    reasons: dict[int, str] = {}
    if readable:
        savepoint = session.begin_nested()
        try:
            report = importing.import_subscribers(session, [m.row for m in readable])
        finally:
            savepoint.rollback()
        reasons = {readable[r.index].line: r.reason for r in report.rejected}
    return [MappedRow(m.line, m.values, m.row, m.reason or reasons.get(m.line)) for m in mapped]


def start_import(session: Session, csv_file: CsvFile, mapping: ColumnMapping):
    """Store the whole file as an ImportJob (each row's original cells kept for its rejection);
    the caller enqueues `engage.subscriptions.run_import` with the job's id and commits."""
    rows: list[importing.ImportRow] = []
    extras: list[dict] = []
    width = len(csv_file.header)
    for mapped, cells in zip(map_rows(csv_file, mapping), csv_file.rows, strict=True):
        padded = (cells + [""] * width)[: max(width, len(cells))]
        names = csv_file.header + [""] * (len(padded) - width)
        extras.append(
            {
                "original": [[mapped.line, *padded], names],
                "reject": mapped.reason,
            }
        )
        rows.append(mapped.row or importing.ImportRow(email=mapped.values["email"]))
    return importing.create_import_job(session, rows, extras=extras)


# --- the job's rejected rows --------------------------------------------------------------------


def rejected_csv(session: Session, job_id: int) -> Iterator[str]:
    """The rows of a desk import that were not imported, as CSV lines: the file's line number,
    its original cells and the reason; every cell safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(cell) for cell in cells])
        return buffer.getvalue()

    header_written = False
    rejections = session.scalars(
        select(importing.ImportRejection)
        .where(importing.ImportRejection.job_id == job_id)
        .order_by(importing.ImportRejection.row_index)
    )
    for rejection in rejections:
        original = json.loads(rejection.original) if rejection.original else None
        if original is None:
            values, names = [rejection.row_index + 2, rejection.email or ""], ["email"]
        else:
            values, names = original
        if not header_written:
            yield "\ufeff" + line(["line", *names, "reason"])
            header_written = True
        yield line([*values, rejection.reason])
    if not header_written:
        yield "\ufeff" + line(["line", "reason"])
