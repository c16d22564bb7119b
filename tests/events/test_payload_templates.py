"""The run's input inside an HTTP chrono's payload, and inside messages and functions."""

import json

import pytest
import responses

from automations import payload_template
from automations.models import ChronoRun, IntegratorHook
from automations.runs import execution
from tests.events.conftest import INTEGRATOR_URL

pytestmark = pytest.mark.django_db

INPUT = {"name": "Ana", "order": {"id": 42, "items": ["pizza", "suco"]}, "paid": True}


def render(payload):
    return payload_template.render(payload, {"input": INPUT})


def test_a_lone_variable_keeps_its_json_type():
    assert render({"id": "{{ input.order.id }}", "items": "{{input.order.items}}", "paid": "{{ input.paid }}"}) == {
        "id": 42, "items": ["pizza", "suco"], "paid": True}


def test_a_missing_lone_variable_becomes_null():
    assert render({"coupon": "{{ input.coupon }}"}) == {"coupon": None}


def test_text_around_variables_and_filters_render_as_text():
    assert render({"text": "Pedido {{ input.order.id }} de {{ input.name|upper }}"}) == {"text": "Pedido 42 de ANA"}


def test_values_without_braces_and_keys_are_sent_as_written():
    payload = {"{{ key }}": "plain", "n": 1, "nested": [{"a": None}]}

    assert render(payload) == payload


def test_nothing_is_html_escaped():
    assert payload_template.render({"t": "{{ input.q }}!"}, {"input": {"q": "<a & b>"}}) == {"t": "<a & b>!"}


def test_a_broken_template_names_where_it_is():
    with pytest.raises(payload_template.PayloadTemplateError) as refused:
        render({"items": [{"x": "{% if %}"}]})

    assert "payload.items[0].x" in str(refused.value)


def test_an_http_chrono_posts_the_rendered_payload(make_chrono, post_hook, celery_eager,
                                                   django_capture_on_commit_callbacks):
    chrono = make_chrono(url=INTEGRATOR_URL,
                         payload={"customer": "{{ input.name }}", "order": "{{ input.order.id }}", "source": "hook"})
    hook = IntegratorHook.rotate_token(chrono)

    with responses.RequestsMock() as rsps:
        rsps.post(INTEGRATOR_URL, status=204)
        with django_capture_on_commit_callbacks(execute=True):
            post_hook(hook, INPUT)
        sent = json.loads(rsps.calls[0].request.body)

    assert sent == {"customer": "Ana", "order": 42, "source": "hook"}
    assert ChronoRun.objects.get().status == "success"


def test_a_broken_payload_template_fails_the_run_without_calling(make_chrono):
    chrono = make_chrono(payload={"x": "{% nonsense %}"})

    with responses.RequestsMock():  # any request would fail the test
        run = chrono.trigger(input={})
        execution.execute(chrono.pk, None, None, run.pk, 0)

    run.refresh_from_db()
    assert run.status == "failed" and "payload.x" in run.error_message and run.attempt == 1


def test_a_message_template_reads_the_posted_input(make_chrono, channel, waha, post_hook, celery_eager,
                                                   django_capture_on_commit_callbacks):
    chrono = make_chrono(target_type="MESSAGE", channel=channel, recipients=["{{ input.phone }}"],
                         message_template="Olá {{ input.name }}, seu pedido {{ input.order.id }} saiu!")
    hook = IntegratorHook.rotate_token(chrono)

    with django_capture_on_commit_callbacks(execute=True):
        post_hook(hook, {**INPUT, "phone": "+55 11 97777-6666"})

    assert [(m["chatId"], m["text"]) for m in waha.sent] == [("5511977776666@c.us", "Olá Ana, seu pedido 42 saiu!")]


def test_a_template_cannot_start_runs_by_naming_a_chrono_method(make_chrono, channel, waha):
    chrono = make_chrono(target_type="MESSAGE", channel=channel, recipients=["+5511999999999"],
                         message_template="{{ chrono.trigger }}{{ chrono.pause }}ok")

    run = chrono.trigger()
    execution.execute(chrono.pk, None, None, run.pk, 0)

    assert ChronoRun.objects.count() == 1
    chrono.refresh_from_db()
    assert chrono.is_active and waha.sent[0]["text"] == "ok"
