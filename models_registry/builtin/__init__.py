"""Models that ship with modelhub and run in its own model server.

`definitions` lists them; `manage.py register_models` writes them into the
registry. Like the model server, nothing here imports Django, because the
model modules run inside the server's child process.
"""
