#!/usr/bin/env bash
# tools/kafka/kafka.sh start [--nodes 3] [--port 19092] | stop [--clean] | fetch
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && py=.venv/bin/python
exec "$py" -m tools.kafka "$@"
