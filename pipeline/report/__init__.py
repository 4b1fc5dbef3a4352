"""The run report: statistics, plots and a picture of one search tree."""
