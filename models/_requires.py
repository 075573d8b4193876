"""Imported first by every module of this package that imports torch: without the ``models``
extra, that import is one clear :class:`~reveal.core.extras.MissingExtraError` naming the extra
and the pip command, instead of torch's own ImportError."""
from ..core.extras import require_extra

require_extra("models", "reveal.models")
