"""Users (the auth admin), and read-only views of orders and API tokens.

Orders change only through the checkout (payments.services), never by editing rows here; an API
token is shown by its first characters only, so that the admin never displays a usable key.
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.authtoken import admin as token_admin  # registers TokenAdmin first
from rest_framework.authtoken.models import TokenProxy

from payments import selectors
from payments.admin import ADMIN_PER_PAGE, CurrencyFilter, EstimatedCountPaginator, IndexedSorts
from shop.models import CustomUser, Order

TOKEN_PREFIX_LENGTH = 6


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CustomUser)
class CustomUserAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Stripe", {"fields": ("stripe_customer_id",)}),
    )
    readonly_fields = ["stripe_customer_id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = ADMIN_PER_PAGE


@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, IndexedSorts, admin.ModelAdmin):
    list_display = ["id", "created_at", "user", "total", "currency", "status"]
    # No date filter: orders have no index on created_at, and a million rows are scanned.
    list_filter = ["status", CurrencyFilter]
    list_select_related = ["user"]
    search_fields = ["id"]  # shows the box; get_search_results searches
    search_help_text = "Order number, or part of the customer's email or name"
    raw_id_fields = ["user"]
    ordering = ["-id"]
    indexed_sorts = {"id": ("id",)}  # the order they were made in (created_at: no index for ties)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = ADMIN_PER_PAGE

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        # As the payments search: an order number exactly, else the customer (trigram indexes).
        term = search_term.strip()
        digits = term.removeprefix("#")
        if digits.isdigit():
            return queryset.filter(pk=int(digits)) if int(
                digits
            ) < 2**63 else queryset.none(), False
        if not term:
            return queryset, False
        customers = selectors.customers_matching(term).values("pk")
        return queryset.filter(user_id__in=customers), False


admin.site.unregister(TokenProxy)


def _token_name(token: TokenProxy) -> str:
    return f"{token.key[:TOKEN_PREFIX_LENGTH]}… ({token.user})"


# A token's name is its key (Token.__str__): the admin's titles and breadcrumbs would show it in
# full. TokenProxy exists for the admin only; the API's Token keeps its own.
TokenProxy.__str__ = _token_name  # type: ignore[method-assign,assignment]


@admin.register(TokenProxy)
class TokenAdmin(ReadOnlyMixin, token_admin.TokenAdmin):
    list_display = ("key_prefix", "user", "created")
    fields = ("key_prefix", "user", "created")
    readonly_fields = fields
    list_select_related = ("user",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = ADMIN_PER_PAGE

    @admin.display(description="Key")
    def key_prefix(self, obj: TokenProxy) -> str:
        return f"{obj.key[:TOKEN_PREFIX_LENGTH]}…"
