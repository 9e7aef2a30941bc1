"""The voucher pages (HTML). One blueprint, ``vouchers``, split by who uses them: the
officer's programs and their console (programs, console, flags), the public program pages,
the enterprise's wallet and the vendor's settlements (public), and the helpers every
template gets (offers). The rules live in the vouchers services; these views load,
authorize and call them."""

from vouchers.views import (  # noqa: F401  (importing registers the routes)
    audit,
    console,
    decisions,
    flags,
    notices,
    offers,
    programs,
    public,
    rules,
)
from vouchers.views.common import bp

__all__ = ["bp"]
