"""The platform's settings plus a bare DRF endpoint to compare it with."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare.urls"
