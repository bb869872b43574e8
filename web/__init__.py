"""The web UI (server-rendered, Chinese by default) and the JSON API under `/api/` (issue 5).

Every page and API call goes through `web.scope` (which deals an actor may see) and sends commands to the
deal's workflow with `starter.send_command`; the web layer never writes deal state itself.
"""
