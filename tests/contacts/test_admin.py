"""The contacts admin: search, filters, bulk tag, audited consent actions, LGPD export and erase."""

import json

import pytest

from contacts.models import ConsentChange, Contact, Tag

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/contacts/contact/"


def act(admin_client, action: str, contacts, **extra):
    return admin_client.post(CHANGELIST, {"action": action, "_selected_action": [c.pk for c in contacts], **extra},
                             follow=action not in ("export_data",))


def test_the_list_searches_by_phone_and_filters_by_tag(admin_client):
    vip = Tag.objects.create(name="vip")
    Contact.objects.create(phone="5511988887777", name="Ana").tags.add(vip)
    Contact.objects.create(phone="5521977776666", name="Bia")

    found = admin_client.get(CHANGELIST, {"q": "98888"}).content.decode()
    tagged = admin_client.get(CHANGELIST, {"tags__id__exact": vip.pk}).content.decode()

    assert "Ana" in found and "Bia" not in found
    assert "Ana" in tagged and "Bia" not in tagged


def test_the_bulk_tag_action_tags_every_selected_contact(admin_client):
    contacts = [Contact.objects.create(phone="5511988887777"), Contact.objects.create(phone="5521977776666")]

    act(admin_client, "add_tag", contacts, tag="feira")

    assert Contact.objects.filter(tags__name="feira").count() == 2


def test_the_opt_out_action_is_audited_with_the_admin_user(admin_client, admin_user):
    contact = Contact.objects.create(phone="5511988887777")

    act(admin_client, "opt_out", [contact])

    change = ConsentChange.objects.get()
    assert Contact.objects.get().opted_out and (change.how, change.actor) == ("admin", admin_user.username)
    assert Contact.objects.get().opted_out_reason == f"by admin ({admin_user.username})"


def test_the_export_action_downloads_the_selected_contacts_data(admin_client):
    contact = Contact.objects.create(phone="5511988887777", name="Ana")

    response = act(admin_client, "export_data", [contact])

    assert response["Content-Disposition"].startswith("attachment")
    assert json.loads(response.content)[0]["contact"]["phone"] == "5511988887777"


def test_the_erase_action_deletes_the_selected_contacts(admin_client):
    contact = Contact.objects.create(phone="5511988887777", name="Ana")

    act(admin_client, "erase_data", [contact])

    assert not Contact.objects.exists()
