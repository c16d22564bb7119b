"""Template tags of the admin index's dashboard (templates/admin/index.html)."""

from django import template
from django.utils.safestring import SafeString

from automations import dashboard

register = template.Library()


@register.simple_tag
def dashboard_figures() -> dashboard.Figures:
    """``{% dashboard_figures as figures %}``: the last 24 hours' figures."""
    return dashboard.figures()


@register.filter
def badge(status: str) -> SafeString:
    """``{{ run.status|badge }}``: the coloured status pill the admin lists use."""
    return dashboard.status_badge(status)
