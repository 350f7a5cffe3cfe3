"""The compute layer: the application services, their routes, scaling and deployment alarms."""
