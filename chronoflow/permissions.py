from rest_framework.permissions import DjangoModelPermissions


class StaffOrModelPermissions(DjangoModelPermissions):
    """Staff may do anything; other users need the model's Django permissions.

    DjangoModelPermissions leaves GET open to any authenticated user; we require the
    model's view permission too, so a bare account sees nothing.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_staff:
            return True
        return super().has_permission(request, view)
