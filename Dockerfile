# syntax=docker/dockerfile:1.7
#
# One image for every finsent service (worker, scheduler, dashboard, migrations, tools).
#
#   docker build -t finsent:cuda .                          torch with CUDA (PyPI's Linux wheel)
#   docker build -t finsent:cpu --build-arg VARIANT=cpu .    torch from the CPU wheel index
#
# docker-compose.yml builds finsent:cuda; docker-compose.cpu.yml builds finsent:cpu.
# The CUDA image needs only the NVIDIA driver and container toolkit on the host: the CUDA
# and cuDNN libraries come with the torch wheel. Models are not baked in: /models is a
# volume (train into it with `docker compose --profile train up`, or mount your own).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the pinned dependencies, then finsent ---------
FROM ${PYTHON_IMAGE} AS build

# cpu | cuda
ARG VARIANT=cuda
# Another wheel index for torch (a mirror, or a CUDA-specific index such as
# https://download.pytorch.org/whl/cu126); empty: the default for the variant.
ARG TORCH_INDEX_URL=

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, from the lock (constraints.txt), in a layer of their own: it is
# rebuilt only when pyproject.toml, constraints.txt or the variant change, not the code.
# The lock pins the CPU build of torch (torch==X+cpu); the CUDA variant takes the same
# version without the local label.
COPY pyproject.toml constraints.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    case "$VARIANT" in \
      cpu)  sed -E 's/^(torch==[^+]+).*$/\1+cpu/' constraints.txt > /tmp/constraints.txt; \
            index="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" ;; \
      cuda) sed -E 's/^(torch==[^+]+).*$/\1/' constraints.txt > /tmp/constraints.txt; \
            index="${TORCH_INDEX_URL}" ;; \
      *)    echo "VARIANT must be cpu or cuda, not '$VARIANT'" >&2; exit 2 ;; \
    esac; \
    grep -q '^torch==' /tmp/constraints.txt; \
    python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt; \
    pip install ${index:+--extra-index-url "$index"} -c /tmp/constraints.txt -r /tmp/requirements.txt; \
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

# Then the code (the only layer that changes on a code edit).
COPY README.md ./
COPY finsent ./finsent
COPY streams ./streams
COPY classifier ./classifier
COPY storage ./storage
COPY dashboard ./dashboard
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps . && finsent --version

# --- runtime: the environment, a non-root user, no compilers, no sources ------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VARIANT=cuda
LABEL org.opencontainers.image.title="finsent" \
      org.opencontainers.image.description="Streaming financial-news sentiment monitor" \
      org.opencontainers.image.licenses="MIT" \
      io.finsent.variant="${VARIANT}"

# libgomp: OpenMP of onnxruntime and scikit-learn's helpers on a slim base
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 finsent \
    && useradd --system --uid 10001 --gid finsent --home-dir /var/lib/finsent \
        --create-home --shell /usr/sbin/nologin finsent \
    && mkdir -p /models /var/lib/finsent/demo \
    && chown finsent:finsent /models /var/lib/finsent/demo

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/finsent \
    HF_HOME=/var/lib/finsent/huggingface \
    FINSENT_DATA_DIR=/var/lib/finsent \
    FINSENT_MODEL_PATH=/models/finsent-sentiment \
    FINSENT_METRICS_HOST=0.0.0.0 \
    FINSENT_DASHBOARD_HOST=0.0.0.0

USER finsent
WORKDIR /var/lib/finsent
# A named volume mounted on a directory of the image starts out with its owner: the
# models and demo volumes are writable by finsent because these directories are.
VOLUME ["/models"]
# dashboard, worker /metrics, scheduler /metrics
EXPOSE 8501 9108 9109

CMD ["finsent", "--help"]
