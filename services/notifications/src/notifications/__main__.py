from notifications.main import run

run()
