"""The status page: read-only HTML pages on the daemon's listener (``app``), rendered from
jinja2 templates with autoescape (``views``); their queries are ``store.sqlite.web``'s."""
