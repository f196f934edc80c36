"""A user's time zone: blank (the site's) or a name of the tz database."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from shop.timezones import validate_time_zone, zone_of
from tests import factories

pytestmark = pytest.mark.django_db


def test_blank_is_the_site_zone():
    user = factories.user("tz_default")
    assert user.time_zone == ""
    assert zone_of(user) is None
    user.full_clean()


def test_a_known_zone_is_valid():
    user = factories.user("tz_tokyo", time_zone="Asia/Tokyo")
    user.full_clean()
    zone = zone_of(user)
    assert zone is not None and zone.key == "Asia/Tokyo"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "asia/tokyo", "Asia/Tokyo ", "+09:00"])
def test_an_unknown_zone_is_refused(name):
    with pytest.raises(ValidationError, match="Unknown time zone"):
        validate_time_zone(name)
    user = factories.user(f"tz_{abs(hash(name))}", time_zone=name)
    with pytest.raises(ValidationError) as error:
        user.full_clean()
    assert "time_zone" in error.value.message_dict


def test_anonymous_has_no_zone():
    from django.contrib.auth.models import AnonymousUser

    assert zone_of(AnonymousUser()) is None
    assert zone_of(None) is None
