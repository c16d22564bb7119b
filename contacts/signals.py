"""What the contacts app announces.

``contact_erased``: a contact's data was erased (an LGPD request). Arguments: chat_ids (every
chat id it was known by), phone. Apps keeping copies of its messages delete them on it.
"""

from django.dispatch import Signal

contact_erased = Signal()
