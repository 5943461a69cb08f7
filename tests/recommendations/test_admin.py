"""The admin: profiles are edited with checked bands; the rest is read-only."""

from decimal import Decimal

import pytest

from recommendations.models import Profile, ProfileBand, RecommendationRun

CHANGE = "/admin/recommendations/profile/cpu_max/change/"


def _form(profile: Profile, **changes: tuple[str, str]) -> dict[str, str]:
    """The profile's change form as posted, with `state=(lower, upper)` edits."""
    bands = list(profile.bands.order_by("lower"))
    data = {
        "floor": str(profile.floor),
        "bands-TOTAL_FORMS": str(len(bands)),
        "bands-INITIAL_FORMS": str(len(bands)),
        "bands-MIN_NUM_FORMS": "0",
        "bands-MAX_NUM_FORMS": "1000",
    }
    for index, band in enumerate(bands):
        lower, upper = changes.get(
            band.state, (f"{band.lower}", "" if band.upper is None else f"{band.upper}")
        )
        data |= {
            f"bands-{index}-id": str(band.pk),
            f"bands-{index}-profile": profile.pk,
            f"bands-{index}-lower": lower,
            f"bands-{index}-upper": upper,
        }
    return data


def _bands(name: str) -> list[tuple[str, Decimal, Decimal | None]]:
    return list(
        ProfileBand.objects.filter(profile_id=name)
        .order_by("lower")
        .values_list("state", "lower", "upper")
    )


def test_it_seeds_the_default_profiles(db):
    assert dict(Profile.objects.values_list("name", "floor")) == {
        "cpu_min": 10,
        "cpu_max": 200,
        "memory_min": 100,
        "memory_max": 300,
    }
    assert _bands("memory_max") == [
        ("very_under", Decimal(0), Decimal(40)),
        ("under", Decimal(40), Decimal(65)),
        ("recommended", Decimal(65), Decimal(80)),
        ("over", Decimal(80), Decimal(90)),
        ("very_over", Decimal(90), None),
    ]


def test_it_saves_contiguous_increasing_bands(admin_page):
    profile = Profile.objects.get(name="cpu_max")

    response = admin_page.post(
        CHANGE,
        _form(profile, recommended=("65", "80"), over=("80", "95")) | {"floor": "250"},
    )

    assert response.status_code == 302
    assert Profile.objects.get(name="cpu_max").floor == 250
    assert _bands("cpu_max")[2:4] == [
        ("recommended", Decimal(65), Decimal(80)),
        ("over", Decimal(80), Decimal(95)),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"recommended": ("66", "85")}, "must start at 65.000 %, where the under"),
        ({"recommended": ("65", "60"), "over": ("60", "95")}, "must end above"),
        ({"very_over": ("95", "200")}, "leave its upper bound blank"),
        ({"over": ("85", "")}, "needs an upper bound"),
        ({"very_under": ("1", "40")}, "must start at 0 %"),
        ({"under": ("-5", "65")}, "Ensure this value is greater than or equal to 0"),
        ({"under": ("forty", "65")}, "Enter a number"),
    ],
)
def test_it_refuses_bands_that_do_not_fit_together(admin_page, changes, message):
    profile = Profile.objects.get(name="cpu_max")
    before = _bands("cpu_max")

    response = admin_page.post(CHANGE, _form(profile, **changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert _bands("cpu_max") == before


@pytest.mark.parametrize("floor", ["0", "-3", "ten"])
def test_it_refuses_a_floor_below_one(admin_page, floor):
    profile = Profile.objects.get(name="cpu_max")

    response = admin_page.post(CHANGE, _form(profile) | {"floor": floor})

    assert response.status_code == 200
    assert Profile.objects.get(name="cpu_max").floor == 200


def test_profiles_cannot_be_added_or_deleted(admin_page):
    assert admin_page.get("/admin/recommendations/profile/add/").status_code == 403
    assert (
        admin_page.post("/admin/recommendations/profile/cpu_max/delete/").status_code
        == 403
    )
    assert Profile.objects.count() == 4


def test_runs_and_results_are_read_only_lists(example_model, compute, admin_page):
    run = compute()

    for path in (
        "/admin/recommendations/profile/",
        "/admin/recommendations/recommendationrun/",
        "/admin/recommendations/modelrecommendation/",
        "/admin/recommendations/recommendationapplication/",
        f"/admin/recommendations/recommendationrun/{run.pk}/change/",
    ):
        assert admin_page.get(path).status_code == 200, path
    assert (
        admin_page.get("/admin/recommendations/recommendationrun/add/").status_code
        == 403
    )
    response = admin_page.post(
        f"/admin/recommendations/recommendationrun/{run.pk}/change/",
        {"state": "failed"},
    )
    assert response.status_code == 403
    assert RecommendationRun.objects.get().state == "succeeded"
