# loadlens in a container: the wheel built with the compiled hot path, installed into a slim
# image. UNTESTED: no container engine could run where this was written (see the README).
#
#   docker build -t loadlens .
#   docker run --rm --network host loadlens quick http://127.0.0.1:8000/health -u 5 -d 10s
#   docker run --rm --network host -v "$PWD:/work" loadlens run scenario.yaml
#
# --network host lets the container reach a service on the host's 127.0.0.1; runs are written
# to /work/loadlens-runs, the mounted directory.

FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir -q '.[dev]' \
    && /venv/bin/pip install --no-cache-dir -q -e . \
    && /venv/bin/python tools/build_native.py \
    && /venv/bin/python -m build --no-isolation --wheel --outdir /dist .

FROM python:3.11-slim
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/loadlens-*.whl && rm -rf /tmp/dist \
    && useradd --create-home loadlens
USER loadlens
WORKDIR /work
ENTRYPOINT ["loadlens"]
CMD ["--help"]
