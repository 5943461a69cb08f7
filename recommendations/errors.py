"""The recommendations app's errors: its one domain error and its conflicts."""

from config.errors import ConflictError, DomainError
from recommendations.models import RecommendationRun


class RecommendationError(DomainError):
    pass


class RecommendationConflict(RecommendationError, ConflictError):
    pass


class RunInProgress(RecommendationConflict):
    """Another run holds the lock; `run` is it, when it could be read."""

    def __init__(self, *, run: RecommendationRun | None) -> None:
        super().__init__(
            "A recommendation run is already going on; wait for it to finish."
        )
        self.run = run
