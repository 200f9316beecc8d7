from standins.erp_simulator.app import run

run()
