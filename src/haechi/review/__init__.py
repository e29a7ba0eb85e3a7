"""Human review: label schemas, queues, labels, agreement and exports."""
