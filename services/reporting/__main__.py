from services.reporting.main import create_app
from shared.web import run

run(create_app, name="reporting", port_of="reporting_port")
