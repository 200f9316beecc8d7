from erp_sync.main import run

run()
