"""What `make run` and the tests run on this machine, outside the domain core: the launcher that
starts the database and the services, and the builder of the real sample library."""
