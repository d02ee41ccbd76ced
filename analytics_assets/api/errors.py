"""Errors the API layer raises for answers that must not pass as data."""


class ApiResponseError(RuntimeError):
    """A 2xx answer that is not a usable page: not JSON, an error envelope, no records key."""


class PaginationLoopError(RuntimeError):
    """Pagination would not end: a repeated next_page, or empty pages that claim has_more."""
