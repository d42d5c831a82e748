"""The Chalice app: middleware and blueprints. Nothing else lives here."""

from chalice import Chalice

from chalicelib.handlers.blueprints import BLUEPRINTS
from chalicelib.handlers.middleware import http_pipeline

app = Chalice(app_name="pen")
app.register_middleware(http_pipeline, "http")
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint)
