"""kombu's Redis transport with two fixes, used for ``redis://`` and ``rediss://`` broker URLs.

When Redis goes away, the worker's consumer closes its broker connection and reconnects. A
run that finishes in that window acks its message from its pool thread, and kombu's channel
then reads the closed connection's settings and raises ``AttributeError`` ("'NoneType'
object has no attribute 'hostname'"), which Celery does not expect there: the worker stopped
with "Unrecoverable error" (seen once in tests/reliability/test_redis_restart.py). Here that
channel raises redis's ``ConnectionError`` instead, one of the transport's connection errors:
Celery logs the failed ack and reconnects. The message stays unacknowledged and comes back;
its run is already recorded, so the second delivery is a no-op.

And kombu built a new ``redis.Redis`` client for every delivery's unacked bookkeeping and
every ack (``Channel._create_client``): about a tenth of a busy worker's consumer time went
into ``Redis.__init__``. A client is only a handle on the channel's connection pool and is
safe to share between threads, so the channel keeps one per pool (a new pool, after a
reconnection, gets a new client).
"""

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:  # closed under us: a broker outage, not a bug
            raise redis.exceptions.ConnectionError("The connection to the broker is closed.")
        return super()._connparams(asynchronous=asynchronous)

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool  # made anew after _disconnect_pools(), which a reconnection calls
        kept = self.__dict__.get("_kept_client")
        if kept is None or kept.connection_pool is not pool:
            kept = self._kept_client = super()._create_client()
        return kept


class Transport(kombu_redis.Transport):
    Channel = Channel
