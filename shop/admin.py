from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from shop.models import CustomUser, Order


@admin.register(CustomUser)
class CustomUserAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Stripe", {"fields": ("stripe_customer_id",)}),
    )
    readonly_fields = ["stripe_customer_id"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "user", "total", "currency", "status"]
    list_filter = ["status", "currency", "created_at"]
    list_select_related = ["user"]
    search_fields = ["=id", "user__email"]
    raw_id_fields = ["user"]
    show_full_result_count = False
