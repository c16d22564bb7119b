from rest_framework import viewsets


class ChronoViewSet(viewsets.ViewSet):
    pass


class ChronoRunViewSet(viewsets.ViewSet):
    pass
