"""Fold translation fragments into the main catalogue (``make messages`` runs it).

Branches that add strings also add their pt-BR translations as small .po files named
``*/TRANSLATIONS*_pt_BR.po`` (e.g. ``whatsapp/TRANSLATIONS_devchannel_pt_BR.po``), so that
two branches never edit the same lines of locale/pt_BR/LC_MESSAGES/django.po. After
makemessages has extracted every msgid, this fills each entry the catalogue has not
translated yet (or has marked fuzzy) from the fragments. Fragment entries whose msgid the
code no longer has are listed, not added. A folded fragment may then be deleted.
"""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


def fragments() -> list[Path]:
    return sorted(path for path in ROOT.glob("*/**/TRANSLATIONS*_pt_BR.po") if ".venv" not in path.parts) + \
        sorted(ROOT.glob("TRANSLATIONS*_pt_BR.po"))


def fold(catalogue: polib.POFile, fragment: polib.POFile) -> tuple[int, list[str]]:
    """Fill untranslated or fuzzy entries of ``catalogue`` from ``fragment``; (filled, unknown msgids)."""
    filled, unknown = 0, []
    for source in fragment.translated_entries():
        entry = catalogue.find(source.msgid, msgctxt=source.msgctxt) if source.msgctxt else catalogue.find(source.msgid)
        if entry is None or entry.obsolete:
            unknown.append(source.msgid)
            continue
        if entry.translated():
            continue  # the catalogue's own translation wins
        entry.msgstr, entry.msgstr_plural = source.msgstr, dict(source.msgstr_plural)
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        filled += 1
    return filled, unknown


def main() -> int:
    catalogue = polib.pofile(str(CATALOGUE), wrapwidth=79)
    for path in fragments():
        filled, unknown = fold(catalogue, polib.pofile(str(path)))
        print(f"{path.relative_to(ROOT)}: {filled} translation(s) folded in")
        for msgid in unknown:
            print(f"  not in the code (skipped): {msgid[:70]!r}")
    catalogue.save()
    missing = [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
    for msgid in missing:
        print(f"untranslated: {msgid[:70]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
