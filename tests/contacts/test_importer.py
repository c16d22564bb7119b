"""CSV import: mapping, dry run, errors per row, merged duplicates, all or nothing, bounded memory."""

import io
import tracemalloc

import pytest
from django.core.management import CommandError, call_command

from contacts.importer import ImportRefused, Importer, parse_mapping
from contacts.models import ConsentChange, Contact

pytestmark = pytest.mark.django_db


def run(text: str, **options):
    return Importer(**options).run(io.StringIO(text))


def test_it_creates_contacts_from_the_known_column_names():
    report = run("Nome,Telefone,Cidade\nAna,+55 11 98888-7777,Santos\nBia,(21) 97777-6666,Rio\n")

    assert (report.created, report.written) == (2, True)
    ana = Contact.objects.get(phone="5511988887777")
    assert (ana.name, ana.custom_fields) == ("Ana", {"Cidade": "Santos"})
    assert Contact.objects.filter(phone="5521977776666").exists()  # national number: CONTACTS_DEFAULT_COUNTRY_CODE


def test_a_mapping_names_the_columns_and_custom_fields():
    report = run("Fone;Cliente;Documento\n5511988887777;Ana;123\n",
                 mapping=parse_mapping("phone=Fone,name=Cliente,custom.cpf=Documento"))

    contact = Contact.objects.get()
    assert report.created == 1 and (contact.name, contact.custom_fields) == ("Ana", {"cpf": "123"})


def test_a_mapping_to_an_unknown_field_or_a_missing_column_is_refused_by_name():
    with pytest.raises(ImportRefused, match="Unknown field 'email'") as unknown:
        parse_mapping("email=Email")
    with pytest.raises(ImportRefused, match="No column 'Fone'") as missing:
        run("Telefone\n5511988887777\n", mapping={"phone": "Fone"})

    assert unknown.value.field == missing.value.field == "map"


def test_a_file_without_a_phone_column_is_refused():
    with pytest.raises(ImportRefused, match="No phone column"):
        run("Nome\nAna\n")


def test_a_dry_run_reports_what_would_happen_and_writes_nothing():
    Contact.objects.create(phone="5511988887777", name="Ana")

    report = run("phone,name\n5511988887777,Ana Maria\n551188887777,Ana\n5521977776666,Bia\nxyz,Cris\n", dry_run=True)

    assert (report.created, report.updated, report.merged, report.error_count) == (1, 1, 1, 1)
    assert not report.written
    assert Contact.objects.get().name == "Ana"


def test_each_bad_row_is_reported_with_its_row_number_field_and_reason():
    report = run("phone,name,timezone\n5511988887777,Ana,\n,Bia,\n5521977776666,Cris,Mars/Base\n", partial=True)

    assert [(e.row, e.field) for e in report.errors] == [(3, "phone"), (4, "timezone")]
    assert "empty" in report.errors[0].reason and "'Mars/Base'" in report.errors[1].reason


def test_one_bad_row_and_nothing_is_written_by_default():
    report = run("phone,name\n5511988887777,Ana\nnot a phone,Bia\n5521977776666,Cris\n")

    assert (report.written, report.error_count, report.created) == (False, 1, 2)
    assert not Contact.objects.exists()


def test_partial_keeps_the_good_rows():
    report = run("phone,name\n5511988887777,Ana\nnot a phone,Bia\n", partial=True)

    assert report.written and Contact.objects.count() == 1


def test_duplicate_rows_are_merged_later_cells_winning_and_tags_adding_up():
    report = run("phone,name,tags,Cidade\n5511988887777,Ana,vip,Santos\n551188887777,,cliente;vip,\n"
                 "+55 11 98888 7777,Ana Maria,,Recife\n", tags=["feira"], batch_size=2)

    contact = Contact.objects.get()
    assert (report.created, report.merged) == (1, 2)
    assert (contact.name, contact.custom_fields) == ("Ana Maria", {"Cidade": "Recife"})
    assert sorted(contact.tags.values_list("name", flat=True)) == ["cliente", "feira", "vip"]


def test_an_import_updates_a_known_contact_without_erasing_what_is_empty_in_the_file():
    Contact.objects.create(phone="5511988887777", name="Ana", custom_fields={"cpf": "1"})

    report = run("phone,name,Cidade\n5511988887777,,Santos\n")

    contact = Contact.objects.get()
    assert report.updated == 1 and (contact.name, contact.custom_fields) == ("Ana", {"cpf": "1", "Cidade": "Santos"})


def test_an_opted_out_column_opts_out_with_an_audit_row_but_never_opts_back_in():
    Contact.objects.create(phone="5521977776666", opted_out=True, opted_out_reason="via 'SAIR'")

    run("phone,opted_out\n5511988887777,sim\n5521977776666,não\n")

    assert Contact.objects.get(phone="5511988887777").opted_out
    assert Contact.objects.get(phone="5521977776666").opted_out
    assert list(ConsentChange.objects.values_list("how", flat=True)) == ["import"]


def test_a_row_with_more_cells_than_the_header_is_an_error_of_that_row():
    report = run("phone,name\n5511988887777,Ana,extra\n", dry_run=True)

    assert [(e.row, e.field) for e in report.errors] == [(2, "row")]


def test_a_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("phone,name\n5511988887777,João\n".encode("latin-1"))

    with pytest.raises(CommandError, match="file: .*UTF-8"):
        call_command("import_contacts", str(path))


def test_five_thousand_rows_import_in_batches_without_holding_the_file(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("phone,name,tags\n")
        for n in range(5000):
            f.write(f"55119{n:08d},Pessoa {n},lote\n")

    tracemalloc.start()
    with path.open(newline="") as lines:
        report = Importer(batch_size=500).run(lines)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert (report.created, report.error_count, Contact.objects.filter(tags__name="lote").count()) == (5000, 0, 5000)
    assert peak < 6_000_000  # ~3 MB in batches of 500; one batch of all 5,000 rows peaks near 10 MB


# --- The command ----------------------------------------------------------------------------------


def test_the_command_imports_with_a_mapping_and_a_tag(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("Fone,Cliente\n5511988887777,Ana\n", encoding="utf-8")

    call_command("import_contacts", str(path), "--map", "phone=Fone,name=Cliente", "--tag", "feira")

    contact = Contact.objects.get()
    assert contact.name == "Ana" and list(contact.tags.values_list("name", flat=True)) == ["feira"]
    assert "1 contacts were created" in capsys.readouterr().out


def test_the_command_lists_bad_rows_and_fails_without_writing(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("phone\n5511988887777\nabc\n", encoding="utf-8")

    with pytest.raises(CommandError, match="Nothing imported: 1 bad row"):
        call_command("import_contacts", str(path))

    assert "row 3: phone:" in capsys.readouterr().out and not Contact.objects.exists()


def test_the_command_prints_progress_for_big_files(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("phone\n" + "".join(f"55119{n:08d}\n" for n in range(10_000)), encoding="utf-8")

    call_command("import_contacts", str(path), "--dry-run")

    assert "... 10000 rows read" in capsys.readouterr().err


def test_birth_dates_are_imported_iso_or_day_first_and_a_bad_one_is_named():
    report = run("Telefone,Nascimento\n5511988887777,1990-12-03\n5521977776666,03/12/1985\n5511911112222,12/31/1990\n",
                 partial=True)

    assert str(Contact.objects.get(phone="5511988887777").birth_date) == "1990-12-03"
    assert str(Contact.objects.get(phone="5521977776666").birth_date) == "1985-12-03"
    assert [(e.row, e.field) for e in report.errors] == [(4, "birth_date")]
