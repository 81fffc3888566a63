#!/usr/bin/env bash
# Rebuild the report's vendored front-end assets from the pinned npm lockfile.
#
#   scripts/vendor_assets.sh            rebuild into src/shadowtrace/report/static/vendor
#   scripts/vendor_assets.sh --check    rebuild into a temporary folder and fail if it differs
#
# Needs node and npm with the npm registry reachable. The built files are committed,
# so installing shadowtrace never runs npm. Versions are pinned in scripts/vendor/
# package.json and package-lock.json; change them there, run this script, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
dest="$root/src/shadowtrace/report/static/vendor"
check=0
if [[ "${1:-}" == "--check" ]]; then
  check=1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp scripts/vendor/package.json scripts/vendor/package-lock.json scripts/vendor/*-entry.js "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

version() { node -p "require('$work/node_modules/$1/package.json').version"; }
cyto="$(version cytoscape)"
fcose="$(version cytoscape-fcose)"
echarts="$(version echarts)"
inter="$(version @fontsource-variable/inter)"

out="$work/out"
mkdir -p "$out"
esbuild="$work/node_modules/.bin/esbuild"
opts=(--bundle --minify --format=iife --target=es2018 --legal-comments=inline --log-level=warning)
(cd "$work" && "$esbuild" graph-entry.js "${opts[@]}" --outfile="$out/cytoscape-$cyto-fcose-$fcose.min.js")
(cd "$work" && "$esbuild" echarts-entry.js "${opts[@]}" --outfile="$out/echarts-$echarts-report.min.js")

# Inter, variable weight: Latin, Latin Extended and Cyrillic subsets (names in
# pinyin, Turkish and Russian); other scripts fall back to the system's fonts.
for subset in latin latin-ext cyrillic; do
  cp "$work/node_modules/@fontsource-variable/inter/files/inter-$subset-wght-normal.woff2" \
    "$out/inter-$inter-$subset-wght-normal.woff2"
done

# Licences, one file per package that ends up in the bundles.
lic() { cp "$work/node_modules/$1/$2" "$out/LICENSE.$3.txt"; }
lic cytoscape LICENSE cytoscape
lic cytoscape-fcose LICENSE cytoscape-fcose
lic cose-base LICENSE cose-base
lic layout-base LICENSE layout-base
lic echarts LICENSE echarts
lic echarts NOTICE echarts-notice
lic zrender LICENSE zrender
lic tslib LICENSE.txt tslib
lic @fontsource-variable/inter LICENSE inter

cat > "$out/VERSIONS.txt" <<EOF
cytoscape $cyto (MIT) + cytoscape-fcose $fcose (MIT), cose-base $(version cose-base) (MIT), layout-base $(version layout-base) (MIT)
echarts $echarts (Apache-2.0; Sankey, bar and line charts, SVG renderer) with zrender $(version zrender) (BSD-3-Clause), tslib $(version tslib) (0BSD)
Inter (font) from @fontsource-variable/inter $inter (OFL-1.1)
built with esbuild $(version esbuild) from scripts/vendor/package-lock.json by scripts/vendor_assets.sh
EOF

if [[ $check == 1 ]]; then
  diff -r "$out" "$dest" && echo "vendored assets are up to date"
  exit
fi
rm -rf "$dest"
mkdir -p "$dest"
cp "$out"/* "$dest/"
ls -l "$dest"
