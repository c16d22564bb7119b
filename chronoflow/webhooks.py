"""What the inbound webhook views (integrator hooks, WAHA events) share."""


class Refused(Exception):
    """A webhook request turned away: the HTTP status to answer and a reason for the sender."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.retry_after = status, reason, retry_after
