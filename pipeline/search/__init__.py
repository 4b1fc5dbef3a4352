"""Function schemas, names and prompts the search (DFSDT / ReACT) shows the model."""
