"""kombu's Redis transport with one fix, used for ``redis://`` and ``rediss://`` broker URLs.

When Redis goes away, the worker's consumer closes its broker connection and reconnects. A
run that finishes in that window acks its message from its pool thread, and kombu's channel
then reads the closed connection's settings and raises ``AttributeError`` ("'NoneType'
object has no attribute 'hostname'"), which Celery does not expect there: the worker stopped
with "Unrecoverable error" (seen once in tests/reliability/test_redis_restart.py). Here that
channel raises redis's ``ConnectionError`` instead, one of the transport's connection errors:
Celery logs the failed ack and reconnects. The message stays unacknowledged and comes back;
its run is already recorded, so the second delivery is a no-op.
"""

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:  # closed under us: a broker outage, not a bug
            raise redis.exceptions.ConnectionError("The connection to the broker is closed.")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
