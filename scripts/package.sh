#!/usr/bin/env bash
# Builds the Debian package: dist/renewald_<version>_<arch>.deb, with nfpm at a pinned version.
# The version comes from git describe (a v* tag, else 0.0.0~git<commits>.<hash>) and is set in the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1
NFPM_VERSION=v2.45.2
export PATH="$PATH:$(go env GOPATH)/bin"
if ! nfpm --version 2>/dev/null | grep -q "${NFPM_VERSION#v}"; then
  GOFLAGS= go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@${NFPM_VERSION}"
fi

if tag=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
  VERSION=${tag#v}
  VERSION=${VERSION//-/\~}               # v1.2.0-3-gabc -> 1.2.0~3~gabc (sorts before the next tag)
else
  VERSION="0.0.0~git$(git rev-list --count HEAD).$(git rev-parse --short=12 HEAD)"
  git diff --quiet HEAD 2>/dev/null || VERSION="$VERSION.dirty"
fi
ARCH=$(go env GOARCH)
BUILD=build/deb                           # the paths packaging/nfpm.yaml names
rm -rf "$BUILD" && mkdir -p "$BUILD"
trap 'rm -rf "$BUILD"' EXIT
export VERSION ARCH

go build -trimpath -buildmode=pie -ldflags "-s -w -X main.version=$VERSION" -o "$BUILD/renewald" ./cmd/renewald

# The packaged unit: the binary in /usr/bin, run as the static renewald user the package creates.
sed -e 's|/usr/local/bin/renewald|/usr/bin/renewald|' deploy/renewald.service > "$BUILD/renewald.service"

# The packaged configuration is the example with safe paths: the database in the state folder and
# mail written to files there until the operator configures SMTP.
sed -e 's|^#\? *path = "renewald.db" *|path = "/var/lib/renewald/renewald.db"   |' \
    -e 's|^transport = "smtp"|transport = "file"|' \
    -e 's|^#\? *file_dir = "mail-out" *|file_dir = "/var/lib/renewald/mail-out"   |' \
    config.example.toml > "$BUILD/config.toml"
for want in 'path = "/var/lib/renewald/renewald.db"' 'transport = "file"' 'file_dir = "/var/lib/renewald/mail-out"'; do
  grep -q "^$want" "$BUILD/config.toml" || { echo "package.sh: config.example.toml no longer has the line for: $want" >&2; exit 1; }
done

cp README.md config.example.toml "$BUILD/"
cat > "$BUILD/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: renewald
Source: https://example.com/renewald

Files: *
Copyright: $(date -u +%Y) renewald maintainers
License: proprietary
 All rights reserved by the renewald maintainers.
COPYRIGHT
{
  echo "renewald ($VERSION) unstable; urgency=medium"
  echo
  git log -n 20 --format='  * %s' | cut -c1-78
  echo
  echo " -- renewald maintainers <renewald@example.com>  $(git log -1 --format=%aD)"
} | gzip -9n > "$BUILD/changelog.gz"
cat > "$BUILD/lintian-overrides" <<'OVERRIDES'
# A daemon with --help and the README in /usr/share/doc; no manual page.
renewald: no-manual-page [usr/bin/renewald]
OVERRIDES

mkdir -p dist
out="dist/renewald_${VERSION}_${ARCH}.deb"
rm -f dist/renewald_*.deb
nfpm package --config packaging/nfpm.yaml --packager deb --target "$out"
echo "$out"
