"""Huikuan HTTP contracts: what each service accepts and answers, and which of its routes
the gateway publishes under /v1 (with the scope each needs). Pydantic and the standard
library only: a service and the gateway import these, never each other."""
