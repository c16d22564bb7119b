"""The committed catalogue: complete, and its compiled .mo matches the .po (no msgfmt needed)."""

from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def entries(catalogue) -> dict:
    return {(e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
            for e in catalogue if e.msgid and not e.obsolete and "fuzzy" not in e.flags
            and (e.msgstr or any(e.msgstr_plural.values()))}


def test_the_committed_mo_is_the_compiled_po():
    """Run `make messages` after editing the .po: the .mo is what Django reads."""
    assert entries(polib.mofile(str(MO))) == entries(polib.pofile(str(PO)))


def test_no_msgid_is_untranslated_or_fuzzy():
    catalogue = polib.pofile(str(PO))
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


def test_the_catalogue_says_how_portuguese_plurals_work():
    assert polib.pofile(str(PO)).metadata["Plural-Forms"] == "nplurals=2; plural=(n > 1);"


def test_every_fragment_is_folded_into_the_catalogue():
    """Fragments other branches leave (*/TRANSLATIONS*_pt_BR.po) are folded in by `make messages`."""
    catalogue = {e.msgid for e in polib.pofile(str(PO)).translated_entries()}
    for path in sorted(p for p in ROOT.glob("*/**/TRANSLATIONS*_pt_BR.po") if ".venv" not in p.parts):
        missing = {e.msgid for e in polib.pofile(str(path)).translated_entries()} - catalogue
        assert not missing, f"{path.relative_to(ROOT)} is not folded in (make messages): {sorted(missing)[:5]}"
