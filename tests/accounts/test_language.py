"""Portuguese and English: the browser's Accept-Language, the operator's own choice, LANGUAGE_CODE."""

import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User

from accounts.models import OperatorProfile
from tests.processes import process_env

PT = {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def test_the_admin_index_speaks_portuguese_to_a_browser_in_pt_br(admin_client):
    page = admin_client.get("/admin/", **PT).content.decode()
    assert 'lang="pt-br"' in page
    assert "Automações" in page  # our app's name
    assert "Execuções nas últimas 24 horas" in page  # our dashboard
    assert "Bem-vindo(a)" in page  # Django's own catalogue


def test_the_admin_index_stays_english_for_an_english_browser(admin_client):
    page = admin_client.get("/admin/", **EN).content.decode()
    assert 'lang="en"' in page and "Runs in the last 24 hours" in page and "Automações" not in page


def test_the_chrono_list_shows_our_labels_and_djangos_in_portuguese(admin_client, make_chrono):
    make_chrono(name="Lembrete de vacina")
    page = admin_client.get("/admin/automations/chrono/", **PT).content.decode()
    assert "Lembrete de vacina" in page
    assert "Programação" in page and "Próxima execução" in page  # our column headers
    assert "Executar agora" in page  # our action
    assert "Pesquisar" in page  # Django's search button


def test_a_400_from_the_api_is_in_portuguese_for_accept_language_pt_br(api):
    response = api.post("/api/chronos/", {"name": "x", "schedule": "0 8 * * *", "timezone": "Marte/Olimpo",
                                          "target_type": "HTTP", "url": "https://example.org/hook"},
                        format="json", **PT)
    assert response.status_code == 400
    assert response.headers["Content-Language"] == "pt-br"
    assert "Fuso horário desconhecido 'Marte/Olimpo'" in str(response.json()["timezone"])


def test_drf_s_own_errors_are_in_portuguese_too(api):
    response = api.post("/api/chronos/", {}, format="json", **PT)
    assert response.status_code == 400
    assert response.json()["name"] == ["Este campo é obrigatório."]


def test_drf_s_blank_and_null_errors_say_the_field_cannot_be_empty(api):
    # DRF's own pt_BR reads "pode não estar em branco" (it may happen not to be blank).
    response = api.post("/api/chronos/", {"name": "", "description": None}, format="json", **PT)
    assert response.status_code == 400
    assert response.json()["name"] == ["Este campo não pode ficar em branco."]
    assert response.json()["description"] == ["Este campo não pode ser nulo."]


def test_the_same_400_is_in_english_without_accept_language(api):
    response = api.post("/api/chronos/", {}, format="json")
    assert response.json()["name"] == ["This field is required."]


def test_the_operators_own_language_wins_over_the_browsers(admin_client, admin_user):
    OperatorProfile.objects.create(user=admin_user, language="en")
    page = admin_client.get("/admin/", **PT).content.decode()
    assert 'lang="en"' in page and "Runs in the last 24 hours" in page
    admin_user.operator_profile.language = "pt-br"
    admin_user.operator_profile.save()
    page = admin_client.get("/admin/", **EN).content.decode()
    assert 'lang="pt-br"' in page and "Execuções nas últimas 24 horas" in page


@pytest.mark.django_db(transaction=True)
def test_a_command_s_error_is_in_portuguese_under_language_code_pt_br():
    result = subprocess.run([sys.executable, "manage.py", "chrono", "pause", "424242"],
                            env=process_env(LANGUAGE_CODE="pt-br"), cwd=settings.BASE_DIR,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Nenhum agendamento com id 424242." in result.stderr


def test_a_staff_member_opens_their_own_preferences_and_saves_a_language(client, db):
    user = User.objects.create_user("ana", password="s3cret-pass", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_chrono"))
    client.force_login(user)
    index = client.get("/admin/", **PT).content.decode()
    assert "Preferências do operador" in index
    response = client.get("/admin/accounts/operatorprofile/")
    profile = OperatorProfile.objects.get(user=user)
    assert response.status_code == 302 and response.url.endswith(f"/operatorprofile/{profile.pk}/change/")
    saved = client.post(response.url, {"language": "pt-br", "time_zone": "America/Manaus"})
    assert saved.status_code == 302
    profile.refresh_from_db()
    assert (profile.language, profile.time_zone) == ("pt-br", "America/Manaus")
    page = client.get("/admin/", **EN).content.decode()
    assert 'lang="pt-br"' in page and "Preferências do operador" in page


def test_a_staff_member_cannot_open_someone_elses_preferences(client, db):
    other = OperatorProfile.objects.create(user=User.objects.create_user("bia", is_staff=True))
    user = User.objects.create_user("ana", is_staff=True)
    client.force_login(user)
    assert client.get(f"/admin/accounts/operatorprofile/{other.pk}/change/").status_code in (302, 403, 404)


def test_a_time_zone_that_does_not_exist_is_a_form_error(admin_client, admin_user):
    profile = OperatorProfile.objects.create(user=admin_user)
    page = admin_client.post(f"/admin/accounts/operatorprofile/{profile.pk}/change/",
                             {"language": "", "time_zone": "Mars/Olympus"}, **EN)
    assert page.status_code == 200 and "Mars/Olympus" in page.content.decode()
    profile.refresh_from_db()
    assert profile.time_zone == ""


def test_the_user_page_carries_the_operator_preferences_inline(admin_client, admin_user):
    page = admin_client.get(f"/admin/auth/user/{admin_user.pk}/change/", **PT).content.decode()
    assert "Preferências do operador" in page and "America/Sao_Paulo" in page
