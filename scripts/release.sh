#!/usr/bin/env bash
# Builds the release artifacts into OUT (default release/), byte for byte the same on every run
# from the same commit (issue #15, docs/install.md):
#   OUT/sni-forwarder-VERSION-linux-x64.tar.gz   unpack anywhere, then its install.sh
#   OUT/sni-forwarder_VERSION_amd64.deb           dpkg -i / apt-get install ./...deb
#   OUT/SHA256SUMS                                 of the two
# Both hold the same tree: dist/ compiled from src/ by tsc (no source maps: src/ is not shipped),
# the production node_modules exactly as package-lock.json pins them (`npm ci --omit=dev`,
# from npm's cache when it has them), the Node.js runtime of NODE_LINE (runtime/versions.mk,
# default NODE_RELEASE_LINE), the launcher bin/sni-forwarder, the units, the configs and docs.
#
# Reproducible: every timestamp is SOURCE_DATE_EPOCH (the commit's time unless set), tar
# members are sorted with owner and group 0, gzip stores no name or time, modes are normalised,
# and dpkg-deb builds from a tree normalised the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-release}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck disable=SC1090
eval "$(sed -n 's/^\(NODE_[A-Z0-9_]*\) := \(.*\)$/\1="\2"/p' runtime/versions.mk)"
NODE_LINE=${NODE_LINE:-$NODE_RELEASE_LINE}
RUNTIME=.runtime/$NODE_LINE
[ -x "$RUNTIME/bin/node" ] || node scripts/fetch-runtime.mjs "$NODE_LINE"

VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
[ -n "$VERSION" ] || { echo "release: no version in package.json" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "release: warning: the work tree differs from the commit; the artifacts are not that commit's" >&2
fi
export TZ=UTC LC_ALL=C

NAME=sni-forwarder-$VERSION-linux-x64
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sni-forwarder-release.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TREE=$WORK/$NAME
LIB=$TREE/lib/sni-forwarder

# ---- the program tree --------------------------------------------------------------------
mkdir -p "$LIB/node/bin" "$TREE/bin" "$TREE/systemd" "$TREE/docs"
npx tsc -p tsconfig.json --outDir "$LIB/dist" --sourceMap false
cp package.json package-lock.json "$LIB/"
(cd "$LIB" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
# Pruned to what runs: no tests, docs, benchmarks, examples, type declarations, source maps or
# CI files of the dependencies (their LICENSE files stay). About a third of node_modules, and
# pino's docs page is what lintian flags as a privacy breach.
find "$LIB/node_modules" -type d \( -name test -o -name tests -o -name docs -o -name benchmarks -o -name example \
  -o -name examples -o -name .github -o -name .husky \) -prune -exec rm -rf {} +
find "$LIB/node_modules" -type f \( \( -name '*.md' ! -iname 'license*' \) -o -name '*.html' -o -name '*.ts' \
  -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name .gitattributes -o -name .npmignore -o -name '*.yml' \
  -o -name '.eslintrc*' -o -name .taprc -o -name '.nycrc*' \) -delete
find "$LIB/node_modules" -depth -type d -empty -delete
# Nothing in lib/ runs through its own #! line (which would look for a node on PATH): the
# launcher runs dist/cli.js with the bundled runtime, and the dependencies' CLIs are unused.
find "$LIB/dist" "$LIB/node_modules" -type f -perm /111 -exec chmod a-x {} +
cp "$RUNTIME/bin/node" "$LIB/node/bin/node"
cp "$RUNTIME/LICENSE" "$RUNTIME/VERSION" "$LIB/node/"
cp bin/sni-forwarder "$TREE/bin/"
cp systemd/sni-forwarder.service systemd/sni-forwarder.socket "$TREE/systemd/"
cp packaging/config.yaml config.example.yaml packaging/install.sh LICENSE README.md CHANGELOG.md "$TREE/"
cp docs/install.md "$TREE/docs/"

# Modes: directories and executables 0755, everything else 0644, whatever the umask was.
normalise() {
  chmod -R u+rwX,go+rX,go-w "$1"
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}
(cd "$TREE" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort | xargs -d '\n' sha256sum > SHA256SUMS)
normalise "$TREE"

# ---- the tarball ---------------------------------------------------------------------------
TARBALL=$OUT/$NAME.tar.gz
tar -C "$WORK" --sort=name --format=gnu --owner=0 --group=0 --numeric-owner \
  --mtime="@$SOURCE_DATE_EPOCH" -cf - "$NAME" | gzip -6 -n > "$TARBALL.tmp"
mv -f "$TARBALL.tmp" "$TARBALL"

# ---- the .deb, from the same tree ----------------------------------------------------------
DEB=$WORK/deb
DOC=$DEB/usr/share/doc/sni-forwarder
mkdir -p "$DEB/DEBIAN" "$DEB/usr/lib" "$DEB/usr/bin" "$DEB/etc/sni-forwarder" "$DEB/usr/lib/systemd/system" \
  "$DOC/examples" "$DEB/usr/share/lintian/overrides"
cp -a "$LIB" "$DEB/usr/lib/sni-forwarder"
cp "$TREE/bin/sni-forwarder" "$DEB/usr/bin/"
cp packaging/config.yaml "$DEB/etc/sni-forwarder/config.yaml"
for unit in sni-forwarder.service sni-forwarder.socket; do
  sed -e 's|/usr/local/bin/sni-forwarder|/usr/bin/sni-forwarder|g' -e 's|/usr/local/lib/sni-forwarder|/usr/lib/sni-forwarder|g' \
    "systemd/$unit" > "$DEB/usr/lib/systemd/system/$unit"
done
cp packaging/deb/copyright "$DOC/copyright"
# A Debian changelog (what dpkg and lintian read) that points at the project's own.
printf '%s\n' "sni-forwarder ($VERSION) unstable; urgency=medium" '' \
  "  * Release $VERSION. Changes: /usr/share/doc/sni-forwarder/CHANGELOG.md.gz" '' \
  " -- $(sed -n 's/^Maintainer: //p' packaging/deb/control)  $(date -R -u -d "@$SOURCE_DATE_EPOCH")" \
  | gzip -9 -n > "$DOC/changelog.gz"
gzip -9 -n < CHANGELOG.md > "$DOC/CHANGELOG.md.gz"
gzip -9 -n < README.md > "$DOC/README.md.gz"
gzip -9 -n < docs/install.md > "$DOC/install.md.gz"
cp config.example.yaml "$DOC/examples/"
cp packaging/deb/lintian-overrides "$DEB/usr/share/lintian/overrides/sni-forwarder"
cp packaging/deb/conffiles packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$DEB/DEBIAN/"
chmod 0755 "$DEB/DEBIAN/postinst" "$DEB/DEBIAN/prerm" "$DEB/DEBIAN/postrm"
SIZE_KB=$(du -sk --exclude=DEBIAN "$DEB" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@INSTALLED_SIZE@/$SIZE_KB/" packaging/deb/control > "$DEB/DEBIAN/control"
(cd "$DEB" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs -d '\n' md5sum > DEBIAN/md5sums)
normalise "$DEB"
DEBFILE=$OUT/sni-forwarder_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zgzip -z6 --build "$DEB" "$DEBFILE.tmp" >/dev/null
mv -f "$DEBFILE.tmp" "$DEBFILE"

(cd "$OUT" && sha256sum "$NAME.tar.gz" "sni-forwarder_${VERSION}_amd64.deb" > SHA256SUMS)
echo "release: $OUT (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, Node $(cat "$RUNTIME/VERSION"))"
ls -l "$TARBALL" "$DEBFILE"
