from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import OperatorProfile, time_zone_names


class OperatorProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("time zone"), required=False,
                                  help_text=OperatorProfile._meta.get_field("time_zone").help_text)

    class Meta:
        model = OperatorProfile
        fields = ["language", "time_zone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", _("The deployment's zone")), *((z, z) for z in time_zone_names())]
