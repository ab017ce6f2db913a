"""Huikuan's development tools: the local stack runner (`python -m huikuan_dev.stack`), the
demo book `make run` loads, and helpers for the tests and benchmarks.

A development-only package: the workspace's dev group installs it, no service depends on it,
and nothing in a service or in `huikuan_runtime` imports it (an import contract in
`make lint`)."""
