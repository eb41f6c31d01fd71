#!/usr/bin/env bash
# XRootD server on localhost:1094 from Debian's xrootd-server, exporting one folder.
#   .ci/services/xrootd.sh start STATE_DIR EXPORT_DIR
#   .ci/services/xrootd.sh stop  STATE_DIR
# xrootd refuses to run as root: it runs as user xrootd (-R) with its own folders.
set -euo pipefail
action=${1:?start or stop}
state=${2:?state directory}
mkdir -p "$state"
state=$(cd "$state" && pwd)

if [[ $action == stop ]]; then
  if [[ -f $state/run/xrootd.pid ]]; then
    pid=$(cat "$state/run/xrootd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$state/run/xrootd.pid"
  fi
  exit 0
fi

export_dir=${3:?export directory}
if ! command -v xrootd >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xrootd-server xrootd-client >/dev/null
fi
id xrootd >/dev/null 2>&1 || useradd --system --no-create-home xrootd
install -d -o xrootd "$state/admin" "$state/run" "$state/log"
chmod -R a+rX "$export_dir"
cat > "$state/xrootd.cfg" <<CONF
all.export $export_dir
xrd.port 1094
all.adminpath $state/admin
all.pidpath $state/run
CONF
xrootd -b -R xrootd -c "$state/xrootd.cfg" -l "$state/log/xrootd.log" -s "$state/run/xrootd.pid"
for _ in $(seq 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/1094) 2>/dev/null; then echo "xrootd: listening"; exit 0; fi
  sleep 0.2
done
echo "xrootd did not start; log in $state/log" >&2
exit 1
