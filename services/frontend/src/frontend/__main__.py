from frontend.main import run

run()
