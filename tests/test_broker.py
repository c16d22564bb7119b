"""The broker transport (chronoflow/broker.py): a channel whose connection closed under it
raises a connection error Celery recovers from, not an AttributeError that stops the worker."""

import os

import pytest
import redis
from kombu import Connection

from chronoflow import broker
from chronoflow.celery import app

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")


def test_redis_broker_urls_use_the_fixed_transport():
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, broker.Transport)
        assert connection.transport.driver_type == "redis"  # beat's pipeline path still applies


def test_a_channel_whose_connection_closed_raises_a_connection_error():
    with Connection(os.environ["REDIS_URL"]) as connection:
        channel = connection.channel()
        transport = channel.connection
        client, transport.client = transport.client, None  # what closing the connection leaves
        try:
            with pytest.raises(redis.exceptions.ConnectionError) as raised:
                channel._connparams()
            assert isinstance(raised.value, transport.connection_errors)
        finally:
            transport.client = client


def test_a_channel_keeps_one_client_per_connection_pool():
    with Connection(os.environ["REDIS_URL"]) as connection:
        channel = connection.channel()
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second  # one client, not one per ack
            assert first.ping()
        channel._disconnect_pools()  # what a reconnection does
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool
            assert third.ping()
