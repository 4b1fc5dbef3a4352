"""toolgen: a pipeline that turns REST API specs into tool-use training data."""

__version__ = "0.1.0"
