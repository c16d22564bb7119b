from tests.localserver import closed_port


def test_health_is_ok_when_database_and_broker_answer(client, db):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_health_is_503_when_the_broker_is_unreachable(client, db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "transport": "redis", "error": "ConnectionError"}


def test_health_needs_no_login_and_shows_no_configuration(client, db):
    text = client.get("/health").content.decode()
    assert "postgres" not in text and "redis://" not in text and "sqlite" not in text
