# The handoff bridge: the agents' console and API. Its image also runs
# the database migration (`python -m handoff migrate`).
#
#   docker build -f deploy/docker/bridge.Dockerfile -t cloudpick/bridge .
#
# Build it from the checkout. docs/deployment.md runs it. Everything above
# "The bridge image alone" is the same in the three Dockerfiles here, so
# the images share those layers (tests/deploy checks it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    CLOUDPICK_HOME=/app

# As `make install` does: Rasa 3.6 declares Python < 3.11 but runs on 3.11,
# so Rasa and rasa-sdk come without their metadata's dependencies and
# everything else from the fully pinned lock. A compiler only for the few
# sdists (multidict has no wheel for 3.11), removed in the same layer.
COPY requirements/lock.txt requirements/rasa.txt /tmp/requirements/
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && pip install --no-deps -r /tmp/requirements/lock.txt \
 && pip install --no-deps --ignore-requires-python -r /tmp/requirements/rasa.txt \
 && apt-get purge -y --auto-remove build-essential \
 && rm -rf /var/lib/apt/lists/* /tmp/requirements

# The project as a wheel, package data included (pyproject.toml); its own
# files (endpoints, channels.yml, models/, var/) are in CLOUDPICK_HOME.
COPY pyproject.toml README.md cloudpick_home.py /tmp/project/
COPY actions /tmp/project/actions
COPY addons /tmp/project/addons
COPY analytics /tmp/project/analytics
COPY bench /tmp/project/bench
COPY handoff /tmp/project/handoff
COPY rasa_sdk_plugins /tmp/project/rasa_sdk_plugins
COPY scripts /tmp/project/scripts
RUN pip install --no-deps --no-build-isolation /tmp/project && rm -rf /tmp/project

RUN useradd --create-home --uid 10001 --user-group cloudpick \
 && mkdir -p /app/var && chown cloudpick:cloudpick /app/var
WORKDIR /app

# --- The bridge image alone --------------------------------------------------
# channels.yml names the channels in the console; var/attachments holds
# customers' files (HANDOFF_ATTACHMENTS_DIR: one volume for every replica).
COPY channels.yml /app/
RUN mkdir -p /app/var/attachments && chown cloudpick:cloudpick /app/var/attachments
USER cloudpick
# A container's port is reached from outside it: listen beyond loopback.
ENV HANDOFF_HOST=0.0.0.0
EXPOSE 5056
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5056/health', timeout=4)"]
# `python -m handoff migrate` first, once per release (compose: migrate;
# Kubernetes: the bridge-migrate Job).
CMD ["python", "-m", "handoff", "serve", "--port", "5056"]
