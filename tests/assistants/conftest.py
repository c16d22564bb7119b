"""The assistants' cast: a fake OpenAI-compatible provider and a fake WAHA, a working channel,
the `agendar` function, an assistant offering it, and an ASSISTANT chrono on a message trigger."""

import pytest
import responses

from assistants.models import Assistant, AssistantTool
from automations.models import MessageTrigger
from functions import sandbox
from functions.models import UserFunction
from tests.assistants.fake_openai import API_KEY, FakeOpenAI
from tests.events.conftest import CUSTOMER, channel, message_payload, post_message  # noqa: F401 (fixtures)
from tests.whatsapp.conftest import WAHA_URL, waha_settings  # noqa: F401 (fixture)
from tests.whatsapp.fake_waha import FakeWaha, install

AGENDAR = """
def run(ctx):
    pedido = ctx.input
    return {"confirmado": True, "servico": pedido["servico"], "pet": pedido["pet"],
            "quando": pedido["quando"], "codigo": "AG-1042"}
"""
AGENDAR_SCHEMA = {
    "type": "object",
    "properties": {"servico": {"type": "string"}, "pet": {"type": "string"},
                   "quando": {"type": "string", "description": "ISO 8601 date and time"}},
    "required": ["servico", "pet", "quando"],
}


@pytest.fixture
def provider():
    """The fake provider on 127.0.0.1; the test fails if any request broke the API's shape."""
    with FakeOpenAI() as fake:
        yield fake
    assert fake.violations == [], "requests the chat-completions API does not allow"


@pytest.fixture
def waha(waha_settings):  # noqa: F811
    """A fake WAHA behind `responses` (the provider on 127.0.0.1 passes through); fails on spec violations."""
    fake = FakeWaha()
    fake.add_session("front", "WORKING", me={"id": "5511888888888@c.us", "pushName": "Loja"})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")
        install(fake, rsps, WAHA_URL)
        yield fake
    assert fake.violations == [], "requests WAHA's spec does not allow"


@pytest.fixture
def agendar(db) -> UserFunction:
    return UserFunction.objects.create(name="agendar", code=AGENDAR, timeout_ms=5000, max_memory_mb=128)


@pytest.fixture
def assistant(provider, agendar) -> Assistant:
    bot = Assistant.objects.create(
        name="Recepção", model="pet-model", base_url=provider.base_url, api_key=API_KEY, timeout_ms=2000,
        system_prompt="Você é a recepção do Pet Shop Rex. Agende banho e tosa com a ferramenta agendar.",
        daily_token_budget=10_000, history_length=10)
    AssistantTool.objects.create(assistant=bot, function=agendar, description="Agenda um serviço para um pet.",
                                 parameters=AGENDAR_SCHEMA)
    return bot


@pytest.fixture
def assistant_chrono(make_chrono, channel, assistant, waha):  # noqa: F811
    """Every message on the channel (regex '.') is answered by the assistant."""
    chrono = make_chrono(name="Atendimento", schedule="manual", target_type="ASSISTANT", assistant=assistant,
                         channel=channel, overlap_policy="allow", max_attempts=1)
    MessageTrigger.objects.create(chrono=chrono, channel=channel, match="regex", pattern=".", max_runs=10)
    return chrono


@pytest.fixture
def converse(post_message, channel, celery_eager, django_capture_on_commit_callbacks):  # noqa: F811
    """Post an inbound message the way WAHA does and let the run it starts finish, in this process."""

    def post(text: str, sender: str = CUSTOMER):
        with django_capture_on_commit_callbacks(execute=True):
            return post_message(channel, text, sender=sender)

    return post


@pytest.fixture(autouse=True, scope="session")
def _stop_pool():
    yield
    sandbox.POOL.close()
