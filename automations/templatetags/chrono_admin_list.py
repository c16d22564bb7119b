"""Template tags of the admin's lists and its nav sidebar.

``{% quick_result_list cl %}``: Django's ``{% result_list cl %}`` with rows built by automations/admin_rows.py.
``{% sidebar_app_list %}``: the nav sidebar's app list (templates/admin/nav_sidebar.html), rendered once per app list.
"""

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.utils.safestring import SafeString

from automations import admin_rows
from chronoflow import admin_site

register = template.Library()


@register.tag(name="quick_result_list")
def quick_result_list_tag(parser, token):
    # The same template lookup as Django's tag: admin/<app>/<model>/change_list_results.html first.
    return InclusionAdminNode(parser, token, func=admin_rows.result_list, template_name="change_list_results.html",
                              takes_context=False)


@register.simple_tag(takes_context=True)
def sidebar_app_list(context) -> SafeString:
    """Django's ``{% include 'admin/app_list.html' with app_list=available_apps show_changelinks=False %}``."""
    return admin_site.sidebar_app_list(context)
