#!/bin/bash
# Print the release string of a bzImage (e.g. 6.1.0-56-cloud-amd64), read
# from the kernel_version field of its setup header (boot protocol 2.00+).
set -euo pipefail
img=${1:?usage: kver-of.sh BZIMAGE}
[ "$(dd if="$img" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] ||
	{ echo "kver-of.sh: $img is not a bzImage" >&2; exit 2; }
ptr=$(od -An -tu2 -j 526 -N 2 "$img" | tr -d ' ')
dd if="$img" bs=1 skip=$((ptr + 512)) count=128 2>/dev/null | tr '\0' '\n' | head -n 1 | cut -d' ' -f1
