#!/bin/sh
# A meson install step (dist/meson.build): copies each shipped default (already installed
# under DATADIR/vnf/defaults) to its place under /etc, only when no file is there yet. An
# installed config file belongs to the operator: an upgrade never overwrites it; the
# shipped version stays beside the defaults to compare with (docs/operations.md, "Upgrade").
#   install-config.sh SHIPPED TARGET [SHIPPED TARGET]...   (absolute install paths)
set -eu
while [ $# -ge 2 ]; do
  from=${DESTDIR:-}$1
  to=${DESTDIR:-}$2
  shift 2
  if [ -e "$to" ] || [ -L "$to" ]; then
    if cmp -s "$from" "$to"; then
      echo "Keeping $to (the shipped version)"
    else
      echo "Keeping $to (changed; the shipped version is $from)"
    fi
  else
    mkdir -p "$(dirname "$to")"
    cp "$from" "$to.tmp-install"
    chmod 0644 "$to.tmp-install"
    mv "$to.tmp-install" "$to"
    echo "Installing $to (from $from)"
  fi
done
