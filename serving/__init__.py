"""The prediction API: FastAPI app (``serving.app.create_app``), started by ``football-platform serve``.

Heavy libraries (dagster, feast) are never imported here; mlflow only when a model is (re)loaded, off the
request path.
"""
