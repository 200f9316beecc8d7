from standins.dev_issuer.app import run

run()
