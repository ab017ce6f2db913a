"""The ops view of the pipelines: thresholds, Kafka inspection, dead letters."""
