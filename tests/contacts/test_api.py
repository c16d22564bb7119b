"""/api/contacts/: create with a written phone, filters, audited consent, LGPD, and the CSV import."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import ConsentChange, Contact, Tag

pytestmark = pytest.mark.django_db


def test_a_contact_is_created_with_its_phone_stored_canonical_and_its_tags(api):
    response = api.post("/api/contacts/", {"phone": "+55 11 8888-7777", "name": "Ana", "tags": ["vip"]}, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["phone"], response.json()["tags"]) == ("5511988887777", ["vip"])


@pytest.mark.parametrize("body, field", [({"phone": "call me"}, "phone"), ({"name": "Ana"}, "phone"),
                                         ({"phone": "5511988887777", "timezone": "Mars/Base"}, "timezone"),
                                         ({"phone": "5511988887777", "custom_fields": [1]}, "custom_fields")])
def test_bad_input_is_refused_naming_the_field(api, body, field):
    response = api.post("/api/contacts/", body, format="json")

    assert response.status_code == 400 and field in response.json()


def test_the_same_number_without_the_ninth_digit_is_refused_as_a_duplicate(api):
    Contact.objects.create(phone="5511988887777")

    response = api.post("/api/contacts/", {"phone": "551188887777"}, format="json")

    assert response.status_code == 400 and "+5511988887777" in response.json()["phone"][0]


def test_the_list_filters_by_tag_and_opt_out(api):
    vip = Tag.objects.create(name="vip")
    Contact.objects.create(phone="5511988887777").tags.add(vip)
    Contact.objects.create(phone="5521977776666", opted_out=True)

    by_tag = api.get("/api/contacts/?tag=vip").json()["results"]
    out = api.get("/api/contacts/?opted_out=true").json()["results"]

    assert [c["phone"] for c in by_tag] == ["5511988887777"] and [c["phone"] for c in out] == ["5521977776666"]


def test_consent_cannot_be_written_directly_but_the_opt_out_action_is_audited(api, admin_user):
    contact = Contact.objects.create(phone="5511988887777")

    api.patch(f"/api/contacts/{contact.pk}/", {"opted_out": True}, format="json")
    assert not Contact.objects.get().opted_out

    response = api.post(f"/api/contacts/{contact.pk}/opt-out/", {"reason": "asked by phone"}, format="json")

    assert response.status_code == 200 and response.json()["opted_out"]
    change = ConsentChange.objects.get()
    assert (change.how, change.detail, change.actor) == ("api", "asked by phone", admin_user.username)


def test_export_and_erase_answer_an_lgpd_request(api):
    contact = Contact.objects.create(phone="5511988887777", name="Ana")

    exported = api.get(f"/api/contacts/{contact.pk}/export/").json()
    erased = api.post(f"/api/contacts/{contact.pk}/erase/")

    assert exported["contact"]["name"] == "Ana"
    assert erased.status_code == 200 and not Contact.objects.exists()


# --- Import --------------------------------------------------------------------------------------


def csv_file(text: str, name: str = "contatos.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_an_upload_is_imported_with_a_mapping_and_a_tag(api):
    response = api.post("/api/contacts/import/", {"file": csv_file("Fone,Cliente\n5511988887777,Ana\n"),
                                                  "map": "phone=Fone,name=Cliente", "tag": ["feira"]},
                        format="multipart")

    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1
    assert Contact.objects.get().tags.get().name == "feira"


def test_a_dry_run_upload_reports_and_writes_nothing(api):
    response = api.post("/api/contacts/import/", {"file": csv_file("phone\n5511988887777\n"), "dry_run": "true"},
                        format="multipart")

    assert response.status_code == 200 and response.json()["created"] == 1 and not Contact.objects.exists()


def test_an_upload_with_bad_rows_is_a_400_listing_them_and_writes_nothing(api):
    response = api.post("/api/contacts/import/", {"file": csv_file("phone\n5511988887777\nabc\n")}, format="multipart")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"row": 3, "field": "phone", "reason": response.json()["errors"][0]["reason"]}]
    assert not Contact.objects.exists()


def test_an_upload_without_a_phone_column_is_refused_on_map(api):
    response = api.post("/api/contacts/import/", {"file": csv_file("Nome\nAna\n")}, format="multipart")

    assert response.status_code == 400 and "phone" in response.json()["map"][0]


def test_a_big_upload_streams_from_its_temporary_file(api, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # past this Django keeps the upload on disk
    text = "phone\n" + "".join(f"55119{n:08d}\n" for n in range(500))

    response = api.post("/api/contacts/import/", {"file": csv_file(text)}, format="multipart")

    assert response.status_code == 201, response.content
    assert Contact.objects.count() == 500


def test_an_upload_over_the_limit_is_refused_on_file(api, settings):
    settings.CONTACTS_IMPORT_MAX_BYTES = 1024

    response = api.post("/api/contacts/import/", {"file": csv_file("phone\n" + "5511988887777\n" * 100)},
                        format="multipart")

    assert response.status_code == 400 and "CONTACTS_IMPORT_MAX_BYTES" in response.json()["file"][0]
