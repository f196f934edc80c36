"""Paging through an API list by cursor, as a client does, and the order it must come in."""

from __future__ import annotations

from typing import Any


def newest_first(model: Any, ids: list[int]) -> list[int]:
    """These rows' ids in the cursor lists' order: newest first by created_at, then id."""
    rows = model.objects.filter(pk__in=ids).order_by("-created_at", "-id")
    return list(rows.values_list("pk", flat=True))


def walk(api: Any, url: str, direction: str = "next") -> list[dict[str, Any]]:
    """Every page from `url` on, following the `next` (or `previous`) links to the end."""
    pages = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        pages.append(response.json())
        url = pages[-1][direction]
    return pages
