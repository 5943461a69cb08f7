"""An entrypoint module that cannot be imported, for the failure tests."""

raise ImportError("this model's dependencies are missing")
