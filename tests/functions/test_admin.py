"""The user-function admin: code errors as form errors, a test-run action."""

from django.contrib.messages import get_messages

from functions.models import UserFunction

FORM = {"name": "echo", "runtime": "python3", "timeout_ms": 2000, "max_http": 1, "max_messages": 1,
        "max_memory_mb": 128, "state": "{}", "env": "{}"}


def test_code_that_does_not_compile_is_a_form_error_naming_the_line(admin_client):
    response = admin_client.post("/admin/functions/userfunction/add/", {**FORM, "code": "def run(ctx):\n    x = (\n"})
    assert response.status_code == 200
    assert any(e.startswith("Line 2") for e in response.context["adminform"].form.errors["code"])
    assert not UserFunction.objects.exists()


def test_good_code_is_saved_as_version_1(admin_client):
    response = admin_client.post("/admin/functions/userfunction/add/", {**FORM, "code": "def run(ctx):\n    return 1\n"})
    assert response.status_code == 302
    assert UserFunction.objects.get().version == 1


def test_the_run_now_action_reports_the_return_value(admin_client):
    function = UserFunction.objects.create(name="echo", code="def run(ctx):\n    return 'pong'\n")
    response = admin_client.post("/admin/functions/userfunction/",
                                 {"action": "run_now", "_selected_action": [function.pk]}, follow=True)
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("pong" in t for t in texts) and any("1 function ran, 0 failed" in t for t in texts)
