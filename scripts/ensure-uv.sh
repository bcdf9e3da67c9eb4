#!/usr/bin/env bash
# Print the path of a uv executable, installing the pinned uv from PyPI into .thotis/tools if
# none is on PATH. Only Python 3.11+ is assumed.
set -euo pipefail
UV_VERSION=0.13.8
if command -v uv >/dev/null 2>&1; then
  command -v uv
  exit 0
fi
tools=".thotis/tools"
if [ ! -x "$tools/bin/uv" ]; then
  echo "installing uv $UV_VERSION into $tools …" >&2
  python3 -m venv "$tools" >&2
  "$tools/bin/pip" install --quiet "uv==$UV_VERSION" >&2
fi
echo "$PWD/$tools/bin/uv"
