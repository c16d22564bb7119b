from django.urls import path

from whatsapp import compat, views, webhooks

app_name = "whatsapp"

urlpatterns = [
    path("whatsapp/webhooks/<str:token>", webhooks.webhook, name="webhook"),
    path("whatsapp/webhooks/", webhooks.webhook, name="webhook-without-token"),  # answers 401, not 404
    path("whatsapp/media/<str:token>", views.media_link, name="media-link"),
    # The original system's routes.
    path("waha/webhooks/sessions/status", webhooks.compat_status_webhook, name="compat-status-webhook"),
    path("waha/sessions", compat.Sessions.as_view(), name="compat-sessions"),
    path("waha/sessions/<str:session>", compat.Session.as_view(), name="compat-session"),
    path("waha/sessions/<str:session>/auth/qr", compat.SessionQr.as_view(), name="compat-session-qr"),
    path("waha/sessions/<str:session>/<str:action>", compat.SessionAction.as_view(), name="compat-session-action"),
]
