"""Domain errors of hess_dr's services that are about the service, not the
data (those are hess_dr.soda.SodaError, hess_dr.cutout.CutoutError,
hess_dr.products.MissingIRFError...).

The DaCHS glue maps them to HTTP statuses and DALI error documents in one
place.
"""
from __future__ import annotations


class ServiceBusy(Exception):
    """Heavy work is refused because its bounded queue is full: HTTP 503
    with a ``Retry-After`` header.

    Attributes
    ----------
    retry_after : int
        Seconds after which a retry is likely to be accepted.
    http_status : int
        503.
    """

    http_status = 503

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def __reduce__(self):
        return type(self), (str(self), self.retry_after)
