from django.contrib import admin
from django.urls import path

admin.site.site_header = "Payments administration"
admin.site.site_title = "Payments admin"

urlpatterns = [
    path("admin/", admin.site.urls),
]
