from users.main import run

run()
