"""The project's URLs plus two views that fail, for the 500 tests (pytest.mark.urls)."""

from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("backoffice/boom/", boom),
    path("api/boom/", boom),
    *urlpatterns,
]
