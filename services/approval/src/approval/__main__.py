from approval.main import run

run()
