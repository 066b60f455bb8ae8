#!/bin/sh
# Installs the systemd units and the config for the sni-forwarder unpacked beside this script
# (the release tarball; docs/install.md). As root:
#   tar -xzf sni-forwarder-VERSION-linux-x64.tar.gz -C /opt
#   /opt/sni-forwarder-VERSION-linux-x64/install.sh
# It writes, fetching nothing:
#   $UNITDIR/sni-forwarder.{service,socket}  ExecStart runs bin/sni-forwarder of this directory
#   $SYSCONFDIR/sni-forwarder/config.yaml     the bastion config, only if there is none
#   $BINDIR/sni-forwarder                     a symlink to this directory's bin/sni-forwarder
# and runs `systemctl daemon-reload`. Nothing is enabled or started. Running a newer release's
# install.sh points the units at the newer directory (then: systemctl restart sni-forwarder).
#   install.sh --uninstall   disables and stops the units, removes them and the symlink; keeps
#                            the config and this directory.
# UNITDIR (/usr/local/lib/systemd/system), SYSCONFDIR (/etc) and BINDIR (/usr/local/bin) may
# be set in the environment; SYSTEMCTL (systemctl) too.
set -eu
here=$(dirname "$(readlink -f "$0")")
UNITDIR=${UNITDIR:-/usr/local/lib/systemd/system}
SYSCONFDIR=${SYSCONFDIR:-/etc}
BINDIR=${BINDIR:-/usr/local/bin}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
systemd_runs() { [ -d /run/systemd/system ] || [ -n "${SYSTEMD_RUNNING:-}" ]; }

case "${1:-}" in
--uninstall)
	if systemd_runs && [ -e "$UNITDIR/sni-forwarder.service" ]; then
		"$SYSTEMCTL" disable --now sni-forwarder.socket sni-forwarder.service
	fi
	rm -f "$UNITDIR/sni-forwarder.service" "$UNITDIR/sni-forwarder.socket" "$BINDIR/sni-forwarder"
	if systemd_runs; then "$SYSTEMCTL" daemon-reload; fi
	echo "Removed the units and $BINDIR/sni-forwarder; kept $SYSCONFDIR/sni-forwarder and $here."
	exit 0
	;;
'') ;;
*)
	echo "usage: $0 [--uninstall]" >&2
	exit 2
	;;
esac

"$here/bin/sni-forwarder" --version >/dev/null || {
	echo "install.sh: $here/bin/sni-forwarder does not run; was the tarball unpacked completely?" >&2
	exit 1
}
install -d -m 0755 "$UNITDIR" "$SYSCONFDIR/sni-forwarder" "$BINDIR"
for unit in sni-forwarder.service sni-forwarder.socket; do
	sed -e "s|/usr/local/bin/sni-forwarder|$here/bin/sni-forwarder|g" \
		-e "s|/usr/local/lib/sni-forwarder|$here/lib/sni-forwarder|g" \
		-e "s|/etc/sni-forwarder/|$SYSCONFDIR/sni-forwarder/|g" \
		"$here/systemd/$unit" > "$UNITDIR/$unit.tmp"
	chmod 0644 "$UNITDIR/$unit.tmp"
	mv -f "$UNITDIR/$unit.tmp" "$UNITDIR/$unit"
done
# Never overwrite an operator's config; the service's DynamicUser must be able to read it.
if [ ! -e "$SYSCONFDIR/sni-forwarder/config.yaml" ]; then
	install -m 0644 "$here/config.yaml" "$SYSCONFDIR/sni-forwarder/config.yaml"
fi
ln -sfn "$here/bin/sni-forwarder" "$BINDIR/sni-forwarder"
if systemd_runs; then "$SYSTEMCTL" daemon-reload; fi
cat <<NEXT
Installed sni-forwarder $("$here/bin/sni-forwarder" --version) from $here; nothing was enabled or started. Next:
  \${EDITOR:-vi} $SYSCONFDIR/sni-forwarder/config.yaml   # your routes (or presets)
  sni-forwarder check -c $SYSCONFDIR/sni-forwarder/config.yaml
  systemctl enable --now sni-forwarder.socket sni-forwarder.service
NEXT
