"""Code that runs inside the Rasa server, loaded by class path from
config.yml, endpoints.yml and credentials.yml."""
