#!/usr/bin/env bash
# PyTorch for the python: target tests (issue 15). Called by .ci/run before `npm test`.
# Debian's python3-torch installs torch (and numpy) for /usr/bin/python3; the tests find it
# there (or through QUANT_AUDIT_PYTHON). Like .ci/services.sh this never fails the run by
# itself: a failure is printed as a "python:" line, and in CI (CI=true) the tests that need
# torch then fail with a message saying so.
set -u
say() { echo "python: $*"; }

if /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1; then
  say "PyTorch already installed: $(/usr/bin/python3 -c 'import torch, sys; print("torch", torch.__version__, "for Python", sys.version.split()[0])')"
  exit 0
fi
say "PyTorch not importable by /usr/bin/python3; installing Debian's python3-torch (apt-get install -y python3-torch)"
if ! { timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 1800 apt-get install -y -qq --no-install-recommends python3-torch >/dev/null; }; then
  say "WARNING: could not install python3-torch; the python target tests will fail in CI (and skip locally)"
  exit 0
fi
if /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1; then
  say "installed: $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)')"
else
  say "WARNING: python3-torch installed but /usr/bin/python3 cannot import torch and numpy"
fi
exit 0
