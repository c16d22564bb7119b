"""Beat: the only code that reads or writes django-celery-beat.

``sync`` keeps one PeriodicTask per active chrono, ``entries`` turns those rows into the
scheduler's in-memory entries, ``lock`` lets one beat send at a time, and ``scheduler``
is the beat scheduler class itself (``celery beat -S automations.beat.scheduler:ChronoScheduler``).
"""
