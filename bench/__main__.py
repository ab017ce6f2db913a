"""`python -m bench [name ...]`: run the benchmarks (all, or those named) and print a table."""

from bench.run import main

main()
