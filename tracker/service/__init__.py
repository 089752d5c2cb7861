"""The service: daemon wiring, scheduler, reload, systemd integration, HTTP listener."""
