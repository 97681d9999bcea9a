#!/usr/bin/env bash
# The test cluster's two images, written locally as OCI image-layout tars and
# imported into containerd's k8s.io namespace — no registry, no Docker:
#
#   registry.k8s.io/pause:3.10.1  the pod sandbox: build/pause/linux/pause.c of
#                                 the k8s.io/kubernetes module, gcc -static
#   docker.io/library/cbload:dev  bin/cbload and the example service
#                                 (/usr/local/bin/cbload-example-service),
#                                 both static Go binaries
#
#   tools/kube/images.sh build          write bin/kube/images/*.tar
#   tools/kube/images.sh import SOCKET  build, then import them into the
#                                       containerd listening on SOCKET
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
OUT=$ROOT/bin/kube/images

build() {
	mkdir -p "$OUT"
	local work
	work=$(mktemp -d)
	trap 'rm -rf "$work"' RETURN
	(cd "$ROOT/tools/kube/ociimage" && $GO build -o "$work/ociimage" .)

	local src
	src=$(cd "$ROOT/tools/kube" && $GO list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
	gcc -Os -static -Wall -DVERSION="3.10.1-cbload" -o "$work/pause" "$src"
	"$work/ociimage" -name registry.k8s.io/pause:3.10.1 -out "$OUT/pause.tar" \
		-file "$work/pause=/pause" -entrypoint /pause

	# The binaries stay beside the tars: e2e.sh runs the same ones locally.
	(cd "$ROOT" && CGO_ENABLED=0 $GO build -trimpath -o "$OUT/cbload" ./cmd/cbload &&
		CGO_ENABLED=0 $GO build -trimpath -o "$OUT/cbload-example-service" ./examples/service)
	"$work/ociimage" -name docker.io/library/cbload:dev -out "$OUT/cbload.tar" \
		-file "$OUT/cbload=/usr/local/bin/cbload" \
		-file "$OUT/cbload-example-service=/usr/local/bin/cbload-example-service" \
		-entrypoint /usr/local/bin/cbload
	echo "images: $OUT/pause.tar $OUT/cbload.tar" >&2
}

case "${1:-}" in
build) build ;;
import)
	sock=${2:?usage: $0 import SOCKET}
	build
	for t in pause cbload; do
		ctr --address "$sock" -n k8s.io images import "$OUT/$t.tar" >&2
	done
	ctr --address "$sock" -n k8s.io images ls -q >&2
	;;
*)
	echo "usage: $0 build | import SOCKET" >&2
	exit 2
	;;
esac
