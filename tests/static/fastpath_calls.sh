#!/usr/bin/env bash
# scripts/test.sh suite static/fastpath_calls: see fastpath_calls.py.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$top/tests/static/fastpath_calls.py" "${BUILD_DIR:-$top/build}"
