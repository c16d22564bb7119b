"""automations listens to what the whatsapp app announces (whatsapp/signals.py).

Connected in ``AutomationsConfig.ready``: a stored inbound message is logged and runs the
message triggers; a session status event is logged; an operator's reply from the phone pauses the
assistants in that chat; a channel whose outreach a ban
signal paused alerts the operator.
"""

from django.dispatch import receiver

from automations.events import alerts
from automations.events import log as event_log
from automations.targets import assistant as assistant_target
from whatsapp import signals


@receiver(signals.message_stored, dispatch_uid="automations_message_stored")
def message_stored(sender, message, **kwargs) -> None:
    event_log.record_message(message)


@receiver(signals.operator_replied, dispatch_uid="automations_operator_replied")
def operator_replied(sender, message, **kwargs) -> None:
    assistant_target.operator_replied(message)


@receiver(signals.session_status_changed, dispatch_uid="automations_session_status")
def session_status_changed(sender, channel, status: str, payload: dict, event_id: str, **kwargs) -> None:
    event_log.record_session_status(channel, status, payload, event_id)


@receiver(signals.outreach_paused, dispatch_uid="automations_outreach_paused")
def outreach_paused(sender, channel, reason: str, **kwargs) -> None:
    alerts.outreach_paused(channel, reason)
