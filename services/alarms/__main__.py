from services.alarms.main import create_app
from shared.web import run

run(create_app, name="alarms", port_of="alarms_port")
