"""gunicorn reads this file from the folder it is started in: it only adds the warning about listening
beyond this machine without CUSTINTEL_AUTH. With your own ``-c`` config, add the same line to it."""

from service.exposure import gunicorn_when_ready as when_ready  # noqa: F401
