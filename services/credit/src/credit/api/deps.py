"""What credit's routes get from the app for its lifetime, as typed dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from credit.service.predictions import PriorCache
from huikuan_runtime.deps import app_state

# The segment and tenant priors of invoice predictions, kept `CREDIT_PRIOR_CACHE_SECONDS`.
Priors = Annotated[PriorCache, Depends(app_state("prior_cache"))]
