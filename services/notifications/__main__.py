from services.notifications.main import create_app
from shared.web import run

run(create_app, name="notifications", port_of="notifications_port")
