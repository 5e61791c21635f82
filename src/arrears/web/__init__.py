"""The web app: pages for people (Jinja2, zh-CN/en) and the REST API for systems."""
