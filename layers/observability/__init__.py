"""The observability layer: Prometheus, Alertmanager, Grafana, their configuration, and the
CloudWatch alarms and dashboard."""
