"""Vectorised ledger engine: the loan-math.md status of a whole book at once.

Same answers as the scalar ``arrears.domain.ledger`` (tested against it), computed by a numba
kernel over CSR arrays; DuckDB (default) or Spark read the interchange files.
"""

from arrears.engine.book import Book, book_from_domain, read_book_dir
from arrears.engine.status import compute_status_table, status_from_book
from arrears.engine.status_file import write_status

__all__ = [
    "Book",
    "book_from_domain",
    "compute_status_table",
    "read_book_dir",
    "status_from_book",
    "write_status",
]
