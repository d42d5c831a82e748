"""The Chalice app: middleware and blueprints. Nothing else lives here."""

from chalice import Chalice, ConvertToMiddleware

from chalicelib.handlers.blueprints import BLUEPRINTS
from chalicelib.handlers.middleware import http_pipeline
from chalicelib.observability import logger, tracer

app = Chalice(app_name="pen")
# Every event (HTTP, SQS, schedules): a trace segment and the Lambda context in each log line.
app.register_middleware(ConvertToMiddleware(tracer.capture_lambda_handler))
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context))
# HTTP only: correlation id, body limit, framework errors as problem+json, access log, metrics.
app.register_middleware(http_pipeline, "http")
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint)
