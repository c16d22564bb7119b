"""Contacts from a CSV file: column mapping, a dry run, errors per row, all or nothing.

The file is read as a stream and written in batches of CONTACTS_IMPORT_BATCH rows, so a
100,000-row file never sits in memory; what is kept per row is its canonical phone (to see
a duplicate later in the file) and at most MAX_REPORTED_ERRORS errors. Rows naming the same
person (also a Brazilian mobile with and without its 9th digit) are merged: later non-empty
cells win, tags add up. An empty cell never erases what a contact has.

By default the file is one transaction: one bad row and nothing is written, yet every row is
still checked, so the report lists all the errors at once. ``partial=True`` keeps the good
rows. An ``opted_out`` column can opt contacts out (audited as 'import'), never back in.
"""

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts import phones
from contacts.models import ConsentChange, Contact, Tag

FIELDS = ("phone", "name", "tags", "timezone", "opted_out", "birth_date")
CUSTOM = "custom."
# Column names recognised without a mapping, compared in lower case.
DEFAULT_COLUMNS = {
    "phone": {"phone", "telefone", "celular", "whatsapp", "número", "numero", "fone", "mobile"},
    "name": {"name", "nome"},
    "tags": {"tags", "etiquetas", "tag"},
    "timezone": {"timezone", "time zone", "fuso", "fuso horário", "fuso horario"},
    "opted_out": {"opted_out", "opted out", "opt-out", "descadastrado"},
    "birth_date": {"birth_date", "birth date", "birthday", "data de nascimento", "nascimento", "aniversário",
                   "aniversario"},
}
# 1990-12-03 (ISO) or 03/12/1990 (day first, as Brazil writes it).
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
TRUE, FALSE = {"1", "true", "yes", "sim", "s", "y", "x"}, {"", "0", "false", "no", "não", "nao", "n"}
MAX_REPORTED_ERRORS = 1000


class ImportRefused(ValueError):
    """The file as a whole cannot be imported (its header, mapping or encoding); names the field."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field_name, reason


@dataclass
class RowError:
    row: int  # the row as a spreadsheet numbers it: the header is row 1
    field: str
    reason: str


@dataclass
class ImportReport:
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    def add_error(self, row: int, field_name: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, field_name, reason))

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "written": self.written, "rows": self.rows, "created": self.created,
                "updated": self.updated, "merged": self.merged, "error_count": self.error_count,
                "errors": [vars(error) for error in self.errors]}


def parse_mapping(text: str) -> dict[str, str]:
    """``"phone=Telefone,name=Nome,custom.cpf=CPF"`` as {field: column}; an unknown field is refused."""
    mapping = {}
    for pair in filter(None, (part.strip() for part in (text or "").split(","))):
        target, sep, column = (item.strip() for item in pair.partition("="))
        if not sep or not target or not column:
            raise ImportRefused("map", f"{pair!r} is not field=Column, e.g. phone=Telefone.")
        if target not in FIELDS and not (target.startswith(CUSTOM) and len(target) > len(CUSTOM)):
            raise ImportRefused("map", f"Unknown field {target!r}: use {', '.join(FIELDS)} or custom.<name>.")
        mapping[target] = column
    return mapping


@lru_cache(maxsize=512)
def _is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class _Rollback(Exception):
    """Undo the file's writes: it had bad rows and partial imports were not asked for."""


class Importer:
    """One import run: ``Importer(mapping, tags=["vip"], dry_run=True).run(lines)`` → ImportReport."""

    def __init__(self, mapping: dict[str, str] | None = None, tags: Iterable[str] = (), dry_run: bool = False,
                 partial: bool = False, progress: Callable[[ImportReport], None] | None = None,
                 progress_every: int = 10_000, batch_size: int | None = None) -> None:
        self.mapping, self.partial, self.progress, self.progress_every = mapping or {}, partial, progress, progress_every
        self.tags = {tag.strip()[:64] for tag in tags if tag.strip()}
        self.batch_size = batch_size or settings.CONTACTS_IMPORT_BATCH
        self.report = ImportReport(dry_run=dry_run)
        self.writing = not dry_run
        self.seen: set[str] = set()  # canonical phones met so far: a later row with one is a duplicate
        self.columns: dict[str, str] = {}
        self.custom: dict[str, str] = {}

    def run(self, lines: Iterable[str]) -> ImportReport:
        reader = _reader(lines)
        self.columns, self.custom = resolve_columns(reader.fieldnames or [], self.mapping)
        if self.report.dry_run:
            self._read(reader)
            return self.report
        try:
            with transaction.atomic():
                self._read(reader)
                if self.report.error_count and not self.partial:
                    raise _Rollback
        except _Rollback:
            return self.report
        self.report.written = True
        return self.report

    def _read(self, reader: csv.DictReader) -> None:
        batch: dict[str, dict] = {}
        for number, row in _rows(reader):
            self.report.rows += 1
            parsed = self._parse(row, number)
            if parsed is not None:
                self._add(batch, *parsed)
            if len(batch) >= self.batch_size:
                self._flush(batch)
                batch = {}
            if self.progress and self.report.rows % self.progress_every == 0:
                self.progress(self.report)
        self._flush(batch)

    def _add(self, batch: dict[str, dict], phone: str, values: dict) -> None:
        if phone in batch or phone in self.seen:
            self.report.merged += 1
        earlier = batch.setdefault(phone, {"name": "", "timezone": "", "opted_out": False, "custom": {}, "tags": set(),
                                           "birth_date": None})
        earlier["birth_date"] = values["birth_date"] or earlier["birth_date"]
        earlier["name"] = values["name"] or earlier["name"]
        earlier["timezone"] = values["timezone"] or earlier["timezone"]
        earlier["opted_out"] = earlier["opted_out"] or values["opted_out"]
        earlier["custom"].update(values["custom"])
        earlier["tags"] |= values["tags"]

    def _parse(self, row: dict, number: int) -> tuple[str, dict] | None:
        """(phone, values) of one row, or None after recording why it cannot be imported."""
        if None in row:
            self._refuse(number, "row", "The row has more cells than the header has columns.")
            return None
        cell = {name: (row.get(column) or "").strip() for name, column in self.columns.items()}
        try:
            phone = phones.canonical(cell.get("phone", ""), settings.CONTACTS_DEFAULT_COUNTRY_CODE)
        except phones.InvalidPhone as exc:
            self._refuse(number, "phone", "The phone is empty." if not cell.get("phone") else str(exc))
            return None
        problem = _cell_problem(cell)
        if problem:
            self._refuse(number, *problem)
            return None
        tags = {t.strip() for t in cell.get("tags", "").replace(";", ",").replace("|", ",").split(",") if t.strip()}
        custom = {key: (row.get(column) or "").strip() for key, column in self.custom.items() if (row.get(column) or "").strip()}
        return phone, {"name": cell.get("name", ""), "timezone": cell.get("timezone", ""), "custom": custom,
                       "birth_date": _date(cell.get("birth_date", "")),
                       "opted_out": cell.get("opted_out", "").lower() in TRUE, "tags": tags | self.tags}

    def _refuse(self, number: int, field_name: str, reason: str) -> None:
        self.report.add_error(number, field_name, reason)
        if not self.partial:
            self.writing = False  # the file will be rolled back: stop writing, keep checking

    def _flush(self, batch: dict[str, dict]) -> None:
        if not batch:
            return
        existing = {c.phone: c for c in Contact.objects.filter(phone__in=list(batch))}
        for phone in batch:
            if phone not in self.seen:
                if phone in existing:
                    self.report.updated += 1
                else:
                    self.report.created += 1
                self.seen.add(phone)
        if self.writing:
            write_batch(batch, existing)


def write_batch(batch: dict[str, dict], existing: dict[str, Contact]) -> None:
    """Create the new contacts, update the known ones, add the tags, audit the opt-outs: a few queries."""
    now = timezone.now()
    updated, created, opting_out = [], [], []
    for phone, values in batch.items():
        contact = existing.get(phone) or Contact(phone=phone)
        contact.name = values["name"] or contact.name
        contact.timezone = values["timezone"] or contact.timezone
        contact.birth_date = values["birth_date"] or contact.birth_date
        contact.custom_fields = {**(contact.custom_fields or {}), **values["custom"]}
        contact.updated_at = now
        if values["opted_out"] and not contact.opted_out:
            contact.opted_out, contact.opted_out_at, contact.opted_out_reason = True, now, "by import"
            opting_out.append(contact)
        (updated if contact.pk else created).append(contact)
    Contact.objects.bulk_update(updated, ["name", "timezone", "birth_date", "custom_fields", "opted_out", "opted_out_at",
                                          "opted_out_reason", "updated_at"])
    Contact.objects.bulk_create(created)
    ConsentChange.objects.bulk_create([ConsentChange(contact=c, opted_out=True, at=now, how=ConsentChange.How.IMPORT)
                                       for c in opting_out])
    by_phone = {**{c.phone: c for c in created}, **existing}
    _add_tags({by_phone[phone]: values["tags"] for phone, values in batch.items() if values["tags"]})


def _add_tags(wanted: dict[Contact, set[str]]) -> None:
    names = set().union(*wanted.values()) if wanted else set()
    if not names:
        return
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    through = Contact.tags.through
    through.objects.bulk_create([through(contact_id=contact.pk, tag_id=ids[name])
                                 for contact, tags in wanted.items() for name in tags], ignore_conflicts=True)


def resolve_columns(header: list[str], mapping: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """({field: column}, {custom key: column}) for this header: the mapping first, then known names."""
    by_name = {column.strip().lower(): column for column in header if column and column.strip()}
    columns, custom = {}, {}
    for target, wanted in mapping.items():
        column = by_name.get(wanted.strip().lower())
        if column is None:
            raise ImportRefused("map", f"No column {wanted!r} in the file; its columns are: {', '.join(by_name.values())}.")
        (custom if target.startswith(CUSTOM) else columns)[target.removeprefix(CUSTOM)] = column
    used = set(columns.values()) | set(custom.values())
    for target, names in DEFAULT_COLUMNS.items():
        found = next((by_name[n] for n in names if n in by_name and by_name[n] not in used), None)
        if target not in columns and found:
            columns[target] = found
            used.add(found)
    if "phone" not in columns:
        raise ImportRefused("map", "No phone column: name it phone, telefone or celular, or map it (phone=Fone).")
    custom.update({column.strip(): column for column in by_name.values() if column not in used})
    return columns, custom


def _cell_problem(cell: dict[str, str]) -> tuple[str, str] | None:
    if len(cell.get("name", "")) > 200:
        return "name", "Longer than 200 characters."
    if cell.get("timezone") and not _is_timezone(cell["timezone"]):
        return "timezone", f"{cell['timezone']!r} is not an IANA time zone such as America/Sao_Paulo."
    if cell.get("opted_out", "").lower() not in TRUE | FALSE:
        return "opted_out", f"{cell['opted_out']!r} is neither yes (sim, true, 1) nor no (não, false, 0, empty)."
    if any(len(tag.strip()) > 64 for tag in cell.get("tags", "").split(",")):
        return "tags", "A tag is longer than 64 characters."
    if cell.get("birth_date") and _date(cell["birth_date"]) is None:
        return "birth_date", f"{cell['birth_date']!r} is not a date such as 1990-12-03 or 03/12/1990."
    return None


def _date(text: str):
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def _reader(lines: Iterable[str]) -> csv.DictReader:
    lines = iter(lines)
    try:
        header = next(lines, "")
    except UnicodeDecodeError:
        raise ImportRefused("file", "The file is not UTF-8 text: save it as CSV UTF-8.") from None
    if not header.strip():
        raise ImportRefused("file", "The file is empty: it needs a header row naming its columns.")
    delimiter = max((",", ";", "\t"), key=header.count)  # spreadsheets in Brazil save with ';'
    return csv.DictReader(itertools.chain([header], lines), delimiter=delimiter)


def _rows(reader: csv.DictReader) -> Iterator[tuple[int, dict]]:
    """(row number as a spreadsheet shows it, row); a broken file is refused at the row it breaks."""
    number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise ImportRefused("file", f"The file is not UTF-8 text after row {number}: save it as CSV UTF-8.") from None
        except csv.Error as exc:
            raise ImportRefused("file", f"Row {number + 1} cannot be read as CSV: {exc}.") from None
        number += 1
        yield number, row
