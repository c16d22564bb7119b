"""Events: what starts a chrono from outside its schedule, and who hears when it fails.

``matching`` is pure text matching; ``triggers`` starts the chronos a WhatsApp message
matches; ``hooks`` is the integrator webhook; ``alerts`` the failure alerts and auto-pause;
``log`` the audit log of every inbound event; ``receivers`` listens to the whatsapp app's
signals. ``admin`` and ``serializers`` are their admin and API pieces.
"""
