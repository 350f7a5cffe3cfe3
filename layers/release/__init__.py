"""The release flow: how an image tag becomes what the services run, as plain data."""
