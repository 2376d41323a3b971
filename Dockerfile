# GPU image for training, embedding and indexing: CUDA runtime + PyTorch + colorvariants with faiss-gpu.
#
#   docker build -t colorvariants:gpu .
#   docker run --gpus all --shm-size=8g -v "$PWD/data:/data" -v "$PWD/runs:/runs" colorvariants:gpu \
#       fit --config configs/cvssl.yaml --manifest /data/manifest.csv --out /runs/cvssl --devices 4 --strategy ddp
#
# Multi-node: one container per node with --network host and MASTER_ADDR, MASTER_PORT, NODE_RANK set, plus
# `--num-nodes N` (see the README's Docker section). The entrypoint is the `colorvariants` CLI.

# PyTorch's PyPI wheels bring their own CUDA libraries; the base image supplies a matching CUDA 12 userland.
ARG BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    WANDB_MODE=offline \
    COLORVARIANTS_CACHE=/cache

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libglib2.0-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv "$VIRTUAL_ENV" \
 && pip install --upgrade pip \
 && mkdir -p /cache /runs /data && chmod 1777 /cache /runs

# PyTorch first, in its own layer: it is the largest download and changes least often.
# Override for another CUDA build, e.g. --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
ARG TORCH_PACKAGES="torch torchvision"
ARG TORCH_INDEX_URL=""
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} ${TORCH_PACKAGES}

WORKDIR /opt/colorvariants
COPY . .
# faiss-cpu (a core dependency) and faiss-gpu (the `gpu` extra) install the same `faiss` module into the same
# folder: remove both, then reinstall faiss-gpu alone so no file of the CPU build is left behind.
RUN pip install ".[gpu]" \
 && pip uninstall -y faiss-cpu faiss-gpu \
 && pip install faiss-gpu \
 && python -c "import faiss, torch, colorvariants; assert hasattr(faiss, 'StandardGpuResources'), 'faiss lacks GPU support'" \
 && colorvariants --help > /dev/null

# Relative paths such as configs/cvssl.yaml resolve here; mount data at /data and write runs to /runs.
ENTRYPOINT ["colorvariants"]
CMD ["--help"]
