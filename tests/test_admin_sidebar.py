"""The admin's nav sidebar (chronoflow/admin_site.py renders its app list once per app list, language and page)."""

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.template import Context, Template
from django.test import RequestFactory

from chronoflow import admin_site

RUNS = "/admin/automations/chronorun/"
CHRONOS = "/admin/automations/chrono/"


def sidebar(page: str) -> str:
    return re.search(r'<nav class="sticky" id="nav-sidebar".*?</nav>', page, re.S).group(0)


@pytest.fixture
def staff(db, client):
    user = User.objects.create_user("operator", password="pw-operator-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_chronorun"))
    client.force_login(user)
    return user


def test_the_sidebar_is_djangos_app_list(admin_user):
    request = RequestFactory().get(RUNS)
    request.user = admin_user
    apps = admin_site.admin.site.get_app_list(request)
    django_html = Template("{% include 'admin/app_list.html' with app_list=available_apps show_changelinks=False %}") \
        .render(Context({"available_apps": apps, "request": request}))
    ours = Template("{% load chrono_admin_list %}{% sidebar_app_list %}") \
        .render(Context({"available_apps": apps, "request": request}))
    assert ours == django_html
    assert 'class="model-chronorun current-model"' in ours


def test_each_page_marks_its_own_model(admin_client):
    runs, chronos = sidebar(admin_client.get(RUNS).content.decode()), sidebar(admin_client.get(CHRONOS).content.decode())
    assert 'class="model-chronorun current-model"' in runs and 'class="model-chrono current-model"' not in runs
    assert 'class="model-chrono current-model"' in chronos and 'class="model-chronorun current-model"' not in chronos


def test_an_operator_sees_what_their_permissions_allow_as_soon_as_they_change(staff, client):
    before = sidebar(client.get(RUNS).content.decode())
    assert 'class="model-chronorun current-model"' in before and 'class="model-chrono"' not in before
    staff.user_permissions.add(Permission.objects.get(codename="view_chrono"))
    after = sidebar(client.get(RUNS).content.decode())
    assert 'class="model-chrono"' in after


def test_the_sidebar_speaks_the_pages_language(admin_client):
    english = sidebar(admin_client.get(RUNS, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    portuguese = sidebar(admin_client.get(RUNS, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode())
    assert ">Add<" in english and ">Adicionar<" in portuguese
