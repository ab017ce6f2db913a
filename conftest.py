"""Every test runs in development mode (`make test` sets it too): the settings refuse the
development placeholders anywhere else. A test of that refusal sets HUIKUAN_ENV itself."""

from __future__ import annotations

import os

os.environ.setdefault("HUIKUAN_ENV", "development")
