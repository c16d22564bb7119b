"""The campaigns API answers bad or unknown input as JSON 4xx, also under ?format=csv (schemathesis found both)."""

from campaigns.models import Campaign


def test_an_unknown_channel_id_filters_to_nothing_instead_of_a_400(api):
    response = api.get("/api/campaigns/?channel=0")
    assert response.status_code == 200 and response.json()["count"] == 0


def test_errors_of_the_csv_ledger_are_json(api):
    missing = api.get("/api/campaigns/0/recipients/?format=csv")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert "detail" in missing.json()
    assert not Campaign.objects.exists()
