# fakellm in a container: docs/deploy.md.
#   docker build -t fakellm .
#   docker run --rm -p 8000:8000 fakellm
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# What the wheel is built from (pyproject.toml names README.md as the readme); .dockerignore keeps
# the rest of the checkout out of the build context.
COPY pyproject.toml README.md ./
COPY fakellm ./fakellm
COPY pytest_plugin ./pytest_plugin
# [fast] adds uvloop: the capacity figures in docs/performance.md are measured on it.
RUN pip install ".[fast]" && useradd --create-home --uid 10001 fakellm
WORKDIR /home/fakellm
USER fakellm

EXPOSE 8000
# No curl in the slim image; Python is there. /_fakellm/health answers from whichever worker accepts.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/_fakellm/health', timeout=2)"]
# Exec form: fakellm is PID 1 and gets docker stop's SIGTERM itself (a graceful stop of every
# worker). One worker per core the container may use: override with
#   docker run fakellm fakellm serve --host 0.0.0.0 --port 8000 --workers 4
CMD ["fakellm", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
