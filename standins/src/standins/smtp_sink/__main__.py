from standins.smtp_sink.app import run

run()
