from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from payments.api.views import ObtainTokenView
from shop import api as shop_api
from shop import views as shop_views

shop_router = SimpleRouter()
shop_router.register("orders", shop_api.OrderViewSet, basename="order")

admin.site.site_header = "Payments administration"
admin.site.site_title = "Payments admin"
# The app list beside every page takes a quarter of a 1,366 px laptop screen from the lists
# (the breadcrumbs and the index lead to the other models).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="backoffice:dashboard"), name="home"),
    path("backoffice/", include("backoffice.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("checkout/", shop_views.checkout, name="checkout"),
    path("api/payments/", include("payments.urls")),
    path("api/shop/", include(shop_router.urls)),
    path("api/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script for the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # ReDoc cannot run under the CSP (it injects inline styles and fetches web fonts): the docs
    # are Swagger UI's, served offline.
    path("api/redoc/", RedirectView.as_view(pattern_name="api-docs", permanent=True)),
]

# Error pages in the back-office's layout; JSON in the API's error shape under /api/.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
