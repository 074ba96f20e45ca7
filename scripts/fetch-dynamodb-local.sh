#!/usr/bin/env bash
# Installs DynamoDB Local (AWS's own emulator) into .local/dynamodb-local/.
#
# DynamoDB Local is not fetched from AWS's download site (unreachable here) but
# from the npm package amplify-dynamodb-simulator, which ships AWS's jar
# unmodified. We pin the sha256 of DynamoDBLocal.jar itself.
#
# NOTE: the package's own emulator/sha256 file is the checksum of AWS's
# upstream dynamodb_local_latest.tar.gz, not of the jar it contains, so it
# cannot be used to verify what we install; hence the pinned jar hash below.
#
# amplify-dynamodb-simulator 2.9.30 ships DynamoDB Local 1.25.1.
#
# Idempotent: does nothing when the jar is already installed with the right
# hash. Usage: scripts/fetch-dynamodb-local.sh [DEST_DIR]
set -euo pipefail

PKG="amplify-dynamodb-simulator@2.9.30"
JAR_SHA256="454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.local/dynamodb-local}"
JAR="$DEST/DynamoDBLocal.jar"

die() { echo "fetch-dynamodb-local: ERROR: $*" >&2; exit 1; }
log() { echo "fetch-dynamodb-local: $*" >&2; }

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | awk '{print $1}'
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | awk '{print $1}'
	else
		die "neither sha256sum nor shasum found: install coreutils"
	fi
}

installed_ok() {
	[[ -f "$JAR" && -d "$DEST/DynamoDBLocal_lib" ]] && [[ "$(sha256_of "$JAR")" == "$JAR_SHA256" ]]
}

# DynamoDB Local needs a JRE at run time; say so early rather than at test time.
if ! command -v java >/dev/null 2>&1; then
	die "java not found: DynamoDB Local needs a Java runtime (>= 11), e.g. apt-get install openjdk-17-jre-headless"
fi

if installed_ok; then
	log "DynamoDB Local already installed in $DEST (sha256 ok)"
	exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js + npm (e.g. apt-get install nodejs npm); it is used to download $PKG"
command -v tar >/dev/null 2>&1 || die "tar not found: apt-get install tar"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ddb-local.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

log "downloading $PKG with npm pack ..."
(cd "$TMP" && npm pack --silent "$PKG" >/dev/null) || die "npm pack $PKG failed (is the npm registry reachable?)"
shopt -s nullglob
tgzs=("$TMP"/*.tgz)
shopt -u nullglob
[[ ${#tgzs[@]} -eq 1 ]] || die "npm pack $PKG did not produce exactly one tarball"
TGZ="${tgzs[0]}"
tar -xzf "$TGZ" -C "$TMP" || die "cannot extract $TGZ"

SRC="$TMP/package/emulator"
[[ -f "$SRC/DynamoDBLocal.jar" && -d "$SRC/DynamoDBLocal_lib" ]] || die "$PKG does not contain emulator/DynamoDBLocal.jar and emulator/DynamoDBLocal_lib/"

got="$(sha256_of "$SRC/DynamoDBLocal.jar")"
if [[ "$got" != "$JAR_SHA256" ]]; then
	rm -rf "$TMP" "$DEST"
	die "sha256 mismatch for DynamoDBLocal.jar from $PKG: got $got, want $JAR_SHA256 (deleted; not installing)"
fi

# Install atomically-ish: build next to DEST, then swap in.
mkdir -p "$(dirname "$DEST")"
STAGE="$DEST.tmp.$$"
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp "$SRC/DynamoDBLocal.jar" "$STAGE/"
cp -R "$SRC/DynamoDBLocal_lib" "$STAGE/"
for f in LICENSE.txt README.txt THIRD-PARTY-LICENSES.txt; do
	[[ -f "$SRC/$f" ]] && cp "$SRC/$f" "$STAGE/"
done
rm -rf "$DEST"
mv "$STAGE" "$DEST"

if ! installed_ok; then
	rm -rf "$DEST"
	die "installed jar in $DEST failed sha256 verification (deleted)"
fi
log "installed DynamoDB Local $(cd "$DEST" && java -jar DynamoDBLocal.jar -version 2>/dev/null | head -n1 || true) into $DEST"
