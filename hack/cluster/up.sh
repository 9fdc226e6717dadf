#!/usr/bin/env bash
# Brings up a real single-node Kubernetes with Argo Workflows on this host,
# without Docker and without a registry: etcd, containerd, runc and the CNI
# plugins from Debian; kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet and kube-proxy, workflow-controller and argo server
# built from source by build.sh. All state lives in .cache/cluster/run; the
# admin kubeconfig is written to .cache/cluster/kubeconfig.
#
# usage: hack/cluster/up.sh        (hack/cluster/down.sh undoes it)
#
# Environment: REHEARSAL_ARGO_TUNING=0 starts the workflow-controller with
# Argo's default timings instead of the tuned ones (for measurements).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKI=$RUN_DIR/pki
CONF=$RUN_DIR/conf

install_packages() {
	local need=()
	command -v etcd >/dev/null || need+=(etcd-server)
	command -v containerd >/dev/null || need+=(containerd)
	command -v runc >/dev/null || need+=(runc)
	[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
	command -v iptables >/dev/null || need+=(iptables)
	command -v openssl >/dev/null || need+=(openssl)
	command -v curl >/dev/null || need+=(curl)
	command -v ip >/dev/null || need+=(iproute2)
	((${#need[@]} == 0)) && return
	[[ $(id -u) == 0 ]] || die "missing packages (${need[*]}) and not root to install them"
	log "installing Debian packages: ${need[*]}"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
}

# save_host_state records, once, what down.sh must restore: the sysctls the
# components change and which host directories already existed. It is kept
# until down.sh has restored it, so a second up.sh after a crash never saves
# values that the crashed cluster had already changed.
save_host_state() {
	[[ -f $STATE_DIR/complete ]] && return
	mkdir -p "$STATE_DIR"
	local s d
	: >"$STATE_DIR/sysctls"
	for s in "${SAVED_SYSCTLS[@]}"; do
		if v=$(sysctl -n "$s" 2>/dev/null); then echo "$s=$v" >>"$STATE_DIR/sysctls"; fi
	done
	: >"$STATE_DIR/dirs"
	for d in "${HOST_DIRS[@]}"; do
		if [[ -e $d ]]; then echo "$d" >>"$STATE_DIR/dirs"; fi
	done
	ip netns list 2>/dev/null | awk '{print $1}' >"$STATE_DIR/netns" || true
	touch "$STATE_DIR/complete"
}

preflight() {
	[[ $(id -u) == 0 ]] || die "up.sh must run as root (it starts kubelet and containerd)"
	if [[ -d $RUN_DIR/pids ]] && compgen -G "$RUN_DIR/pids/*.pid" >/dev/null; then
		local f
		for f in "$RUN_DIR"/pids/*.pid; do
			if alive "$(cat "$f")"; then
				die "a cluster is already running ($(basename "$f" .pid) pid $(cat "$f")); run hack/cluster/down.sh first"
			fi
		done
	fi
	if [[ -e $RUN_DIR ]]; then
		log "leftovers of an earlier run found; cleaning up with down.sh first"
		"$HACK_DIR/down.sh"
	fi
	local port
	for port in "${API_PORT}" 23791 23801 10250 10248 10256 10249 10257 10259 "$ARGO_SERVER_PORT" 6060 9090; do
		if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
			die "TCP port $port is already in use on this host; the cluster needs it"
		fi
	done
}

setup_network() {
	ip link add "$NODE_BRIDGE" type bridge 2>/dev/null || true
	ip addr replace "$NODE_IP/32" dev "$NODE_BRIDGE"
	ip link set "$NODE_BRIDGE" up
	# Pods may reach this node and each other, never anything beyond: drop
	# whatever they would have forwarded out of the pod bridge.
	iptables -w -N REHEARSAL-FORWARD 2>/dev/null || iptables -w -F REHEARSAL-FORWARD
	iptables -w -A REHEARSAL-FORWARD -i "$POD_BRIDGE" ! -o "$POD_BRIDGE" -j DROP
	iptables -w -C FORWARD -j REHEARSAL-FORWARD 2>/dev/null || iptables -w -I FORWARD 1 -j REHEARSAL-FORWARD
	# Pods fall back to this resolver (no cluster DNS): an address on our own
	# bridge where nothing listens, so a lookup fails fast and stays here.
	mkdir -p "$CONF"
	echo "nameserver $NODE_IP" >"$CONF/resolv.conf"
}

# cert NAME CN [O] [SAN]: a key and a certificate signed by the cluster CA.
cert() {
	local name=$1 cn=$2 o=${3:-} san=${4:-}
	local subj="/CN=$cn"
	if [[ -n $o ]]; then subj="/O=$o$subj"; fi
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [[ -n $san ]]; then
			echo "extendedKeyUsage=serverAuth,clientAuth"
			echo "subjectAltName=$san"
		else
			echo "extendedKeyUsage=clientAuth"
		fi
	} >"$PKI/$name.ext"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 30 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null ||
		die "openssl could not sign the $name certificate"
}

# kubeconfig NAME CERT: a kubeconfig for the client certificate CERT.
kubeconfig() {
	cat >"$CONF/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rehearsal-e2e
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: rehearsal-e2e
  context: {cluster: rehearsal-e2e, user: $2, namespace: $NAMESPACE}
current-context: rehearsal-e2e
EOF
}

make_pki() {
	mkdir -p "$PKI" "$CONF"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=rehearsal-e2e-ca" -days 30 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out "$PKI/ca.crt" 2>/dev/null || die "openssl could not create the cluster CA"
	cert apiserver kube-apiserver "" \
		"IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
	cert admin rehearsal-admin system:masters
	cert controller-manager system:kube-controller-manager
	cert scheduler system:kube-scheduler
	cert kubelet "system:node:$NODE_NAME" system:nodes
	cert kubelet-serving "system:node:$NODE_NAME" system:nodes "IP:$NODE_IP,DNS:$NODE_NAME"
	cert kube-proxy system:kube-proxy
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
	openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	local c
	for c in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$c" "$c"; done
	cp "$CONF/admin.kubeconfig" "$KUBECONFIG_FILE"
}

start_etcd() {
	start_daemon etcd etcd --name rehearsal-e2e --data-dir "$RUN_DIR/etcd" \
		--listen-client-urls "$ETCD_CLIENT_URL" --advertise-client-urls "$ETCD_CLIENT_URL" \
		--listen-peer-urls "$ETCD_PEER_URL" --initial-advertise-peer-urls "$ETCD_PEER_URL" \
		--initial-cluster "rehearsal-e2e=$ETCD_PEER_URL" --initial-cluster-state new \
		--snapshot-count 100000 --quota-backend-bytes 2147483648
}

start_apiserver() {
	start_daemon kube-apiserver kube-apiserver \
		--etcd-servers "$ETCD_CLIENT_URL" \
		--bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
		--authorization-mode Node,RBAC \
		--kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$PKI/ca.crt" \
		--kubelet-preferred-address-types InternalIP,Hostname \
		--allow-privileged=true --profiling=false \
		--enable-admission-plugins NodeRestriction
}

start_controllers() {
	start_daemon kube-controller-manager kube-controller-manager \
		--kubeconfig "$CONF/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$CONF/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$CONF/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 \
		--root-ca-file "$PKI/ca.crt" \
		--service-account-private-key-file "$PKI/sa.key" --use-service-account-credentials \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--leader-elect=false --controllers '*,-cloud-node-lifecycle' --profiling=false
	start_daemon kube-scheduler kube-scheduler \
		--kubeconfig "$CONF/scheduler.kubeconfig" \
		--authentication-kubeconfig "$CONF/scheduler.kubeconfig" \
		--authorization-kubeconfig "$CONF/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false --profiling=false
}

start_containerd() {
	local c=$RUN_DIR/containerd
	mkdir -p "$c" "$CONF/cni" "$RUN_DIR/cni"
	cat >"$CONF/containerd.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
# opt would create /opt/containerd on the host.
disabled_plugins = ["io.containerd.internal.v1.opt"]

[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CONF/cni"
    max_conf_num = 1
EOF
	cat >"$CONF/cni/10-rehearsal.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "rehearsal-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$RUN_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
	start_daemon containerd containerd --config "$CONF/containerd.toml"
}

import_base_images() {
	local tar=$CACHE_DIR/images/base-$ARGO_VERSION-$GO_VERSION.tar
	[[ -f $tar ]] || die "$tar is missing; build.sh should have written it"
	ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$tar" >/dev/null ||
		die "ctr images import $tar failed"
}

start_kubelet() {
	mkdir -p "$RUN_DIR/kubelet"
	cat >"$CONF/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
failSwapOn: false
resolvConf: $CONF/resolv.conf
clusterDomain: cluster.local
makeIPTablesUtilChains: false
serializeImagePulls: false
# A busy shared disk must not evict the pods of a test run.
evictionHard: {memory.available: 100Mi, nodefs.available: "2%", imagefs.available: "2%", nodefs.inodesFree: "2%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
	start_daemon kubelet kubelet --config "$CONF/kubelet.yaml" \
		--kubeconfig "$CONF/kubelet.kubeconfig" --root-dir "$RUN_DIR/kubelet" \
		--hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
}

start_kube_proxy() {
	cat >"$CONF/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CONF/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
	start_daemon kube-proxy kube-proxy --config "$CONF/kube-proxy.yaml"
}

apiserver_ready() { kubectl_ get --raw /readyz >/dev/null; }

node_ready() {
	[[ $(kubectl_ get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

# install_argo applies the CRDs (one file at a time: the folder's
# kustomization breaks a plain -f DIR), the namespace, RBAC, the controller
# ConfigMap and the PersistentVolumes.
install_argo() {
	local f
	for f in "$ARGO_SRC"/manifests/base/crds/minimal/argoproj.io_*.yaml; do
		kubectl_ apply --server-side -f "$f" >/dev/null || die "kubectl apply of CRD $(basename "$f") failed"
	done
	kubectl_ apply -f "$HACK_DIR/manifests/argo.yaml" >/dev/null || die "kubectl apply of manifests/argo.yaml failed"
	local i pvs=$CONF/pvs.yaml
	: >"$pvs"
	for i in $(seq -w 1 32); do
		mkdir -p "$RUN_DIR/pv/pv$i"
		chmod 0777 "$RUN_DIR/pv/pv$i"
		cat >>"$pvs" <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: rehearsal-pv$i
  labels: {rehearsal.dev/e2e: "true"}
spec:
  storageClassName: standard
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $RUN_DIR/pv/pv$i, type: Directory}
EOF
	done
	kubectl_ apply -f "$pvs" >/dev/null || die "kubectl apply of the PersistentVolumes failed"
	for f in "$ARGO_SRC"/manifests/base/crds/minimal/argoproj.io_*.yaml; do
		kubectl_ wait --for condition=established --timeout=60s -f "$f" >/dev/null ||
			die "CRD $(basename "$f") was not established"
	done
}

start_argo() {
	start_workflow_controller "${REHEARSAL_ARGO_TUNING:-1}"
	# In --auth-mode client, argo server builds each caller's client from the
	# default loading rules (KUBECONFIG), not from --kubeconfig.
	start_daemon argo-server env KUBECONFIG="$KUBECONFIG_FILE" argo server --kubeconfig "$KUBECONFIG_FILE" \
		--namespaced --managed-namespace "$NAMESPACE" --namespace "$NAMESPACE" \
		--auth-mode client --port "$ARGO_SERVER_PORT" --secure=true
}

# argo_server_ready: argo server answers over TLS (with 401: every call needs
# a bearer token in --auth-mode client).
argo_server_ready() {
	local code
	code=$(curl -sSk -o /dev/null -w '%{http_code}' "$ARGO_SERVER_URL/api/v1/version") || return 1
	[[ $code == 200 || $code == 401 ]]
}

# on_exit tears a half-started cluster down again, unless
# REHEARSAL_KEEP_FAILED=1; down.sh keeps the logs.
on_exit() {
	local rc=$?
	((rc == 0)) && return 0
	if [[ ${REHEARSAL_KEEP_FAILED:-0} == 1 ]]; then
		log "up.sh failed; the cluster is left as it is (REHEARSAL_KEEP_FAILED=1); logs in ${RUN_DIR#"$REPO_ROOT"/}/logs"
		return "$rc"
	fi
	log "up.sh failed; tearing down what it started"
	"$HACK_DIR/down.sh" || true
	return "$rc"
}

main() {
	local t0 t
	t0=$(now)
	install_packages
	preflight
	trap on_exit EXIT
	"$HACK_DIR/build.sh"
	save_host_state
	mkdir -p "$RUN_DIR"
	t=$(now)
	setup_network
	make_pki
	log "network and certificates ready in $(since "$t")s"

	t=$(now)
	start_etcd
	start_containerd
	wait_for "etcd health" 30 curl -fsS "$ETCD_CLIENT_URL/health"
	log "etcd ready in $(since "$t")s"
	start_apiserver
	wait_for "containerd socket" 30 ctr --address "$CONTAINERD_SOCK" version
	import_base_images
	log "containerd ready, base images imported after $(since "$t")s"
	wait_for "kube-apiserver /readyz (log: $RUN_DIR/logs/kube-apiserver.log)" 60 apiserver_ready
	log "kube-apiserver ready after $(since "$t")s"
	start_controllers
	start_kubelet
	start_kube_proxy
	install_argo
	start_argo
	wait_for "node $NODE_NAME Ready (log: $RUN_DIR/logs/kubelet.log)" 90 node_ready
	log "node Ready after $(since "$t")s"
	wait_for "argo server $ARGO_SERVER_URL (log: $RUN_DIR/logs/argo-server.log)" 60 argo_server_ready
	wait_for "default ServiceAccount in $NAMESPACE" 30 kubectl_ -n "$NAMESPACE" get serviceaccount default
	local d
	for d in etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy workflow-controller argo-server; do
		check_daemon "$d"
	done
	log "cluster up in $(since "$t0")s (start-up only: $(since "$t")s); KUBECONFIG=${KUBECONFIG_FILE#"$REPO_ROOT"/}"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
