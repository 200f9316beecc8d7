from registration.main import run

run()
