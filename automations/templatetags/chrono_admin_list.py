"""``{% quick_result_list cl %}``: Django's ``{% result_list cl %}`` with rows built by automations/admin_rows.py."""

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode

from automations import admin_rows

register = template.Library()


@register.tag(name="quick_result_list")
def quick_result_list_tag(parser, token):
    # The same template lookup as Django's tag: admin/<app>/<model>/change_list_results.html first.
    return InclusionAdminNode(parser, token, func=admin_rows.result_list, template_name="change_list_results.html",
                              takes_context=False)
