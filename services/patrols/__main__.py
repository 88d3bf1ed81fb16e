from services.patrols.main import create_app
from shared.web import run

run(create_app, name="patrols", port_of="patrols_port")
