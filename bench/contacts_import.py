"""Contacts import benchmark: a generated CSV of N rows through the importer, time and peak memory.

    DATA_DIR=/tmp/bench-contacts .venv/bin/python bench/contacts_import.py            # 100,000 rows
    DATA_DIR=/tmp/bench-contacts .venv/bin/python bench/contacts_import.py --rows 20000

Uses a scratch SQLite file in a fresh temporary DATA_DIR (migrated first) unless DATABASE_URL
is set. Peak memory is Python's (tracemalloc) during the import, so it shows whether the file
is streamed; one row in 50 repeats an earlier number without its 9th digit (merged).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("Telefone;Nome;Etiquetas;Cidade\n")
        for n in range(rows):
            # Mobiles 5511 99nnnnnnn; every 50th row is the row before written without its 9th digit.
            number = f"55119{(n - 1) % 10**7:07d}" if n % 50 == 49 else f"551199{n % 10**7:07d}"
            f.write(f"{number};Pessoa {n};lote,bench;Cidade {n % 100}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-contacts-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoflow.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from contacts.importer import Importer

    call_command("migrate", verbosity=0)
    path = Path(os.environ["DATA_DIR"]) / "bench-contacts.csv"
    write_csv(path, args.rows)
    tracemalloc.start()
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as lines:
        report = Importer().run(lines)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    print(f"{report.rows} rows ({path.stat().st_size / 1e6:.1f} MB): {report.created} created, {report.updated} updated, "
          f"{report.merged} merged, {report.error_count} errors in {elapsed:.1f} s "
          f"({report.rows / elapsed:,.0f} rows/s); peak Python memory {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
