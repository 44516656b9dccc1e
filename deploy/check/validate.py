#!/usr/bin/env python3
"""Checks of deploy/ that no schema tool makes, run by deploy/check/check.sh.

  validate.py schemas SRC DST      copy kubernetes-validate's JSON schemas for
                                   kubeconform, pointing their $refs at files
  validate.py compose COMPOSE_SCHEMA DEFAULT.json CLUSTER.json
                                   docker-compose.yml against the Compose spec
                                   schema, plus Moldau-specific wiring; the two
                                   JSON files are the project as compose-go
                                   resolves it (composeconfig/) without and
                                   with the cluster profile
  validate.py k8s FILE...          Moldau-specific checks of rendered manifests
                                   (one deployment: a StatefulSet, its Services
                                   and PodDisruptionBudget)
  validate.py dashboard FILE...    a Grafana dashboard's shape, and its metric
                                   names against the Go source (for dashboards
                                   no live scrape checks yet)
  validate.py cluster-smoke BIN MANIFEST WORKDIR DASHBOARD
                                   run MANIFEST's StatefulSet as local processes
                                   of BIN with the pods' env and args; check
                                   they form a cluster, and DASHBOARD's metric
                                   names against their /metrics

Names in pending-names.txt (env variables and metrics that issue #14's code
has not landed yet) are accepted when the Go source lacks them, with a note.

Needs PyYAML and jsonschema (check.sh installs them in a venv).
"""

import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
ROOT = os.path.dirname(DEPLOY)

errors = []
notes = set()


def fail(msg):
    errors.append(msg)


def note(msg):
    notes.add(msg)


def pending_names(kind):
    """{name: [labels]} of pending-names.txt lines of this kind (env, metric)."""
    out = {}
    with open(os.path.join(HERE, "pending-names.txt")) as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2 and fields[0] == kind:
                out[fields[1]] = fields[2:]
            elif fields and fields[0] not in ("env", "metric"):
                fail(f"pending-names.txt: unknown kind {fields[0]!r}")
    return out


def moldau_env_names():
    """The MOLDAU_* variables the broker reads (broker/config/load.go), and
    the pending ones that it does not read yet (env_unknown notes their use)."""
    with open(os.path.join(ROOT, "broker", "config", "load.go")) as f:
        names = set(re.findall(r'=\s*"(MOLDAU_[A-Z_]+)"', f.read()))
    if not names:
        fail("found no MOLDAU_* names in broker/config/load.go")
    pending_env.update(n for n in pending_names("env") if n not in names)
    return names | pending_env


pending_env = set()  # pending-names.txt env names load.go lacks (moldau_env_names)


def env_unknown(known, name):
    """Whether a MOLDAU_* name is one the broker does not read (noting a pending one)."""
    if not name.startswith("MOLDAU_"):
        return False
    if name in pending_env:
        note(f"{name} is not in broker/config/load.go yet; accepted as pending (pending-names.txt)")
    return name not in known


def cmd_schemas(src, dst):
    """kubernetes-validate ships schemas whose $refs are "/api/_definitions.json#...",
    resolved against an https $id that kubeconform would try to download.
    Point them at the local _definitions.json instead; nothing else changes."""
    os.makedirs(dst, exist_ok=True)
    definitions = "file://" + os.path.join(os.path.abspath(dst), "_definitions.json")
    n = 0
    for name in os.listdir(src):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(src, name)) as f:
            text = f.read()
        text = text.replace('"/api/_definitions.json', '"' + definitions)
        with open(os.path.join(dst, name), "w") as f:
            f.write(text)
        n += 1
    if n == 0:
        fail(f"no schemas in {src}")


def port_of(addr):
    return addr.rsplit(":", 1)[-1]


# The HTTP front ends: env variable, container/Service port name, the
# image's port (Dockerfile ENV) and the log line a node announces it with.
FRONT_ENDS = (
    ("MOLDAU_SCHEMA_REGISTRY_ADDR", "schema-registry", 8081, "schema registry listening"),
    ("MOLDAU_CONSOLE_ADDR", "console", 8080, "console listening"),
    ("MOLDAU_HTTP_PROXY_ADDR", "http-proxy", 8082, "http proxy listening"),
)


def cmd_compose(schema_path, default_json=None, cluster_json=None):
    import jsonschema

    path = os.path.join(DEPLOY, "docker-compose.yml")
    with open(path) as f:
        compose = yaml.safe_load(f)
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    for e in sorted(validator.iter_errors(compose), key=lambda e: list(e.path)):
        fail(f"docker-compose.yml: {'/'.join(map(str, e.path))}: {e.message}")

    services = compose.get("services", {})
    for name in ("moldau", "prometheus"):
        if name not in services:
            fail(f"docker-compose.yml: no service {name!r}")
    if errors:
        return

    # The broker is built from the repository's Dockerfile.
    m = services["moldau"]
    build = m.get("build", {})
    context = os.path.normpath(os.path.join(DEPLOY, build.get("context", ".")))
    dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
    if not os.path.isfile(dockerfile):
        fail(f"docker-compose.yml: moldau builds from {dockerfile}, which does not exist")

    env = m.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    known = moldau_env_names()
    for k in env:
        if env_unknown(known, k):
            fail(f"docker-compose.yml: moldau sets {k}, which the broker does not read")
    admin_port = port_of(env.get("MOLDAU_ADMIN_ADDR", "127.0.0.1:9644"))
    if env.get("MOLDAU_ADMIN_ADDR", "").startswith("127.") or "MOLDAU_ADMIN_ADDR" not in env:
        fail("docker-compose.yml: moldau's admin address must listen beyond loopback for Prometheus")
    published = {}
    for p in m.get("ports", []):  # "host:container" (or "ip:host:container")
        host, _, target = str(p).rpartition(":")
        published[target] = host.rpartition(":")[2]
    for var, _, _, _ in FRONT_ENDS:
        addr = env.get(var)
        if addr and (not addr.startswith("0.0.0.0:") or published.get(port_of(addr)) != port_of(addr)):
            fail(f"docker-compose.yml: moldau's {var} {addr!r} should bind 0.0.0.0 and be published as the same port")
    data_dir = env.get("MOLDAU_DATA_DIR", "")
    if not any(str(v).split(":")[1] == data_dir for v in m.get("volumes", []) if ":" in str(v)):
        fail(f"docker-compose.yml: no volume mounted at MOLDAU_DATA_DIR {data_dir!r}")

    # Every bind-mounted file exists.
    for sname, s in services.items():
        for v in s.get("volumes", []):
            src = str(v).split(":")[0]
            if src.startswith(".") and not os.path.exists(os.path.join(DEPLOY, src)):
                fail(f"docker-compose.yml: {sname} mounts {src}, which does not exist")

    # Prometheus scrapes the broker's admin port by its service name.
    prom_mount = [str(v).split(":") for v in services["prometheus"].get("volumes", [])]
    prom_files = [os.path.join(DEPLOY, p[0]) for p in prom_mount if p[1] == "/etc/prometheus/prometheus.yml"]
    if not prom_files:
        fail("docker-compose.yml: prometheus does not mount a prometheus.yml")
        return
    with open(prom_files[0]) as f:
        prom = yaml.safe_load(f)
    targets = []
    for sc in prom.get("scrape_configs", []):
        if not sc.get("job_name"):
            fail("prometheus.yml: a scrape config without job_name")
        if sc.get("metrics_path", "/metrics") != "/metrics":
            fail(f"prometheus.yml: job {sc.get('job_name')}: the broker serves /metrics")
        for st in sc.get("static_configs", []):
            targets += st.get("targets", [])
    if f"moldau:{admin_port}" not in targets:
        fail(f"prometheus.yml: no target moldau:{admin_port} (targets: {targets})")

    # Grafana, if present, loads the dashboard the provisioning file points at.
    g = services.get("grafana")
    if g:
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in g.get("volumes", [])}
        with open(os.path.join(DEPLOY, "grafana", "provisioning", "dashboards", "moldau.yml")) as f:
            prov = yaml.safe_load(f)
        path = prov["providers"][0]["options"]["path"]
        if not any(t.startswith(path + "/") and t.endswith(".json") for t in mounts):
            fail(f"docker-compose.yml: grafana mounts no dashboard under {path}")
        with open(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "prometheus.yml")) as f:
            ds = yaml.safe_load(f)
        url = ds["datasources"][0]["url"]
        if "prometheus:9090" not in url:
            fail(f"grafana datasource {url} is not the compose prometheus service")
        for dash in sorted(os.listdir(os.path.join(DEPLOY, "grafana"))):
            if dash.endswith(".json") and f"{path}/{dash}" not in mounts:
                fail(f"docker-compose.yml: grafana does not mount grafana/{dash} under {path}")

    if default_json and cluster_json:
        with open(default_json) as f:
            default = json.load(f)
        with open(cluster_json) as f:
            cluster = json.load(f)
        check_compose_cluster(default, cluster, targets, known)


def check_compose_cluster(default, cluster, targets, known):
    """The "cluster" profile, on the project as compose-go resolves it: its
    nodes are off by default; each has a distinct node id 0..n-1, binds
    0.0.0.0, publishes its Kafka port as the same port it listens on and
    advertises, listens for peers on 0.0.0.0:<port>, names every node by
    service name in the same MOLDAU_PEERS, has its own volume and is scraped."""
    where = "docker-compose.yml (profile cluster)"
    nodes = {n: s for n, s in cluster["services"].items() if "cluster" in (s.get("profiles") or [])}
    if len(nodes) < 3:
        fail(f"{where}: want at least three broker services in the cluster profile, got {sorted(nodes)}")
        return
    if set(nodes) & set(default["services"]):
        fail(f"{where}: {sorted(set(nodes) & set(default['services']))} also run without the profile")
    single = cluster["services"].get("moldau", {})
    ids, volumes, published, peer_lists, want_peers = {}, {}, {}, set(), []
    for name, svc in sorted(nodes.items()):
        w = f"{where}: {name}"
        env = svc.get("environment") or {}
        for k in env:
            if env_unknown(known, k):
                fail(f"{w}: sets {k}, which the broker does not read")
        if svc.get("image") != single.get("image") or not svc.get("build"):
            fail(f"{w}: should build the image the single broker uses ({single.get('image')})")
        elif not os.path.isfile(os.path.join(svc["build"]["context"], svc["build"].get("dockerfile", "Dockerfile"))):
            fail(f"{w}: builds from a context without its Dockerfile")
        try:
            ids[name] = int(env.get("MOLDAU_NODE_ID", ""))
        except ValueError:
            fail(f"{w}: MOLDAU_NODE_ID {env.get('MOLDAU_NODE_ID')!r} is not a number")
        addr = env.get("MOLDAU_ADDR") or ""
        kafka = port_of(addr)
        if not addr.startswith("0.0.0.0:"):
            fail(f"{w}: MOLDAU_ADDR {addr!r} should bind 0.0.0.0 inside the container")
        ports = {str(p.get("target")): str(p.get("published")) for p in svc.get("ports", [])}
        if ports.get(kafka) != kafka:
            fail(f"{w}: publish the Kafka port {kafka} as the same host port (got {ports.get(kafka)})")
        if port_of(env.get("MOLDAU_ADVERTISE_ADDR") or "") != kafka:
            fail(f"{w}: MOLDAU_ADVERTISE_ADDR {env.get('MOLDAU_ADVERTISE_ADDR')!r} is not on the Kafka port {kafka}")
        for target, host in ports.items():
            if host in published:
                fail(f"{w}: host port {host} is also published by {published[host]}")
            published[host] = name
        peer_addr = env.get("MOLDAU_PEER_ADDR") or ""
        if not peer_addr.startswith("0.0.0.0:"):
            fail(f"{w}: MOLDAU_PEER_ADDR {peer_addr!r} should be 0.0.0.0:<port>")
        if name in ids:
            want_peers.append(f"{ids[name]}@{name}:{port_of(peer_addr)}")
        peer_lists.add(env.get("MOLDAU_PEERS"))
        admin = env.get("MOLDAU_ADMIN_ADDR") or "127.0.0.1:9644"
        if admin.startswith("127.") or f"{name}:{port_of(admin)}" not in targets:
            fail(f"{w}: Prometheus does not scrape its admin address {admin} as {name}:{port_of(admin)}")
        data_dir = env.get("MOLDAU_DATA_DIR")
        vols = [v.get("source") for v in svc.get("volumes", []) if v.get("target") == data_dir and v.get("type") == "volume"]
        if not vols:
            fail(f"{w}: no named volume at MOLDAU_DATA_DIR {data_dir!r}")
        for v in vols:
            if v in volumes:
                fail(f"{w}: shares volume {v} with {volumes[v]}")
            volumes[v] = name
    if sorted(ids.values()) != list(range(len(nodes))):
        fail(f"{where}: node ids should be 0..{len(nodes) - 1}, got {ids}")
    want = ",".join(sorted(want_peers, key=lambda p: int(p.split("@")[0])))
    if peer_lists != {want}:
        fail(f"{where}: every node's MOLDAU_PEERS should be {want}, got {sorted(map(str, peer_lists))}")


def cmd_k8s(files):
    docs = []
    for path in files:
        with open(path) as f:
            docs += [(path, d) for d in yaml.safe_load_all(f) if d]
    known = moldau_env_names()
    services = {d["metadata"]["name"]: d for _, d in docs if d.get("kind") == "Service"}
    sets = [(p, d) for p, d in docs if d.get("kind") == "StatefulSet"]
    if not sets:
        fail(f"{files}: no StatefulSet")
    for path, sts in sets:
        where = f"{path}: StatefulSet {sts['metadata']['name']}"
        spec = sts["spec"]
        headless = services.get(spec.get("serviceName"))
        if headless is None or headless["spec"].get("clusterIP") != "None":
            fail(f"{where}: serviceName {spec.get('serviceName')!r} is not a headless Service here")
        labels = spec["template"]["metadata"]["labels"]
        for sname, svc in services.items():
            sel = svc["spec"].get("selector", {})
            if any(labels.get(k) != v for k, v in sel.items()):
                fail(f"{where}: Service {sname} selects {sel}, which the pods do not carry")
        if not any(svc["spec"].get("clusterIP") != "None" for svc in services.values()):
            fail(f"{where}: no client (non-headless) Service")
        claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
        pod = spec["template"]["spec"]
        containers = [c for c in pod["containers"] if c["name"] == "moldau"]
        if not containers:
            fail(f"{where}: no container named moldau")
            continue
        c = containers[0]
        env = {e["name"]: e for e in c.get("env", [])}
        for name in env:
            if env_unknown(known, name):
                fail(f"{where}: env {name} is not read by the broker")
        node_id = env.get("MOLDAU_NODE_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if node_id != "metadata.labels['apps.kubernetes.io/pod-index']":
            fail(f"{where}: MOLDAU_NODE_ID must come from the pod-index label, got {node_id}")
        adv = env.get("MOLDAU_ADVERTISE_ADDR", {}).get("value", "")
        if not adv.startswith(f"$(POD_NAME).{spec.get('serviceName')}.$(POD_NAMESPACE).svc."):
            fail(f"{where}: MOLDAU_ADVERTISE_ADDR {adv!r} is not the pod's name under the headless Service")
        for dep in ("POD_NAME", "POD_NAMESPACE"):
            if dep not in env or list(env).index(dep) > list(env).index("MOLDAU_ADVERTISE_ADDR"):
                fail(f"{where}: {dep} must be defined before MOLDAU_ADVERTISE_ADDR for $(...) expansion")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        admin = env.get("MOLDAU_ADMIN_ADDR", {}).get("value", "")
        if port_of(admin) != str(ports.get("admin")):
            fail(f"{where}: MOLDAU_ADMIN_ADDR {admin!r} does not listen on the admin port {ports.get('admin')}")
        kafka = env.get("MOLDAU_ADDR", {}).get("value", "")
        if port_of(kafka) != str(ports.get("kafka")) or kafka.startswith("127."):
            fail(f"{where}: MOLDAU_ADDR {kafka!r} does not listen on the kafka port {ports.get('kafka')}")
        # Each HTTP front end that is on binds 0.0.0.0 on its named
        # container port, and every Service exposes that port by name.
        for var, pname, _, _ in FRONT_ENDS:
            addr = env.get(var, {}).get("value")
            if addr is None and pname not in ports:
                continue
            if addr == "":
                if pname in ports:
                    fail(f"{where}: {var} is off but the container still has port {pname}")
                continue
            if addr is None or not addr.startswith("0.0.0.0:") or port_of(addr) != str(ports.get(pname)):
                fail(f"{where}: {var} {addr!r} should be 0.0.0.0:<container port {pname} {ports.get(pname)}>")
            for sname, svc in services.items():
                targets = {sp.get("targetPort") for sp in svc["spec"].get("ports", [])}
                if pname not in targets and ports.get(pname) not in targets:
                    fail(f"{where}: Service {sname} does not expose port {pname}")
        for probe, want in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = c.get(probe, {}).get("httpGet", {})
            if get.get("path") != want or get.get("port") not in ("admin", ports.get("admin")):
                fail(f"{where}: {probe} should GET {want} on the admin port, got {get}")
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        data_dir = env.get("MOLDAU_DATA_DIR", {}).get("value")
        if not any(mounts.get(n) == data_dir for n in claims):
            fail(f"{where}: MOLDAU_DATA_DIR {data_dir!r} is not on a volumeClaimTemplate")
        args = c.get("args", [])
        for i, a in enumerate(args):
            if a == "--set" and (i + 1 >= len(args) or "=" not in args[i + 1]):
                fail(f"{where}: --set needs key=value, got {args[i + 1:i + 2]}")
        sc = pod.get("securityContext", {})
        if not sc.get("runAsNonRoot") or sc.get("runAsUser") != 65532 or sc.get("fsGroup") != 65532:
            fail(f"{where}: pod must run as the image's nonroot user 65532 with fsGroup 65532")
        check_k8s_cluster(where, sts, headless, env, ports, docs)


def check_k8s_cluster(where, sts, headless, env, ports, docs):
    """replicas > 1 is a Raft cluster: every pod names every voter in
    MOLDAU_PEERS as <ordinal>@<pod DNS name>:<peer port>, listens on the peer
    port, starts in parallel, and a PodDisruptionBudget keeps a quorum."""
    spec = sts["spec"]
    replicas = spec.get("replicas", 1)
    name = sts["metadata"]["name"]
    peers = env.get("MOLDAU_PEERS", {}).get("value")
    if replicas <= 1:
        for k in ("MOLDAU_PEERS", "MOLDAU_PEER_ADDR"):
            if k in env:
                fail(f"{where}: replicas {replicas} (a single node) but {k} is set")
        return
    if spec.get("podManagementPolicy") != "Parallel":
        fail(f"{where}: a cluster needs podManagementPolicy: Parallel (a quorum must start together)")
    peer_port = ports.get("peer")
    if peer_port is None:
        fail(f"{where}: replicas {replicas} but no container port named peer")
    peer_addr = env.get("MOLDAU_PEER_ADDR", {}).get("value", "")
    if not peer_addr.startswith("0.0.0.0:") or port_of(peer_addr) != str(peer_port):
        fail(f"{where}: MOLDAU_PEER_ADDR {peer_addr!r} should be 0.0.0.0:<peer port {peer_port}>")
    if not peers:
        fail(f"{where}: replicas {replicas} but no MOLDAU_PEERS value")
        return
    # The pod's DNS suffix is the one it advertises to clients.
    adv = env.get("MOLDAU_ADVERTISE_ADDR", {}).get("value", "")
    suffix = adv.rsplit(":", 1)[0].removeprefix("$(POD_NAME)")
    want = [f"{i}@{name}-{i}{suffix}:{peer_port}" for i in range(replicas)]
    got = peers.split(",")
    if got != want:
        fail(f"{where}: MOLDAU_PEERS should be every pod by ordinal,\n  want {','.join(want)}\n  got  {peers}")
    names = list(env)
    if "POD_NAMESPACE" not in env or names.index("POD_NAMESPACE") > names.index("MOLDAU_PEERS"):
        fail(f"{where}: POD_NAMESPACE must be defined before MOLDAU_PEERS for $(...) expansion")
    if headless is not None:
        hp = {p.get("targetPort"): p for p in headless["spec"].get("ports", [])}
        if "peer" not in hp and peer_port not in hp:
            fail(f"{where}: headless Service {headless['metadata']['name']} has no peer port")
        if not headless["spec"].get("publishNotReadyAddresses"):
            fail(f"{where}: the headless Service must publishNotReadyAddresses (peers resolve before ready)")
    anti = spec["template"]["spec"].get("affinity", {}).get("podAntiAffinity")
    if not anti:
        fail(f"{where}: a cluster should spread its pods (podAntiAffinity)")
    labels = spec["template"]["metadata"]["labels"]
    quorum = replicas // 2 + 1
    pdbs = [d for _, d in docs if d.get("kind") == "PodDisruptionBudget"
            and all(labels.get(k) == v for k, v in d["spec"].get("selector", {}).get("matchLabels", {}).items())]
    if not pdbs:
        fail(f"{where}: no PodDisruptionBudget selects the pods")
    for d in pdbs:
        mu = d["spec"].get("maxUnavailable")
        if not isinstance(mu, int) or mu < 1 or replicas - mu < quorum:
            fail(f"{where}: PodDisruptionBudget {d['metadata']['name']} maxUnavailable {mu!r} "
                 f"must leave a quorum of {quorum} of {replicas} up")


def go_metrics():
    """{name: (type, labels)} of the Prometheus metrics the Go source defines
    (non-test files outside deploy/): prometheus.XOpts{Namespace, Subsystem,
    Name} literals with a Vec's []string labels, and NewDesc("name", ...,
    []string{...}, ...). Constant labels (prometheus.Labels{"k": ...}) count
    for every metric of their file: a static approximation of a scrape."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("deploy", "vendor", "node_modules")]
        for fn in filenames:
            if not fn.endswith(".go") or fn.endswith("_test.go"):
                continue
            with open(os.path.join(dirpath, fn)) as f:
                src = f.read()
            if "prometheus" not in src:
                continue
            const = re.findall(r'prometheus\.Labels\{\s*"(\w+)"', src)
            for m in re.finditer(r'prometheus\.New(Counter|Gauge|Histogram|Summary)(Vec)?\(prometheus\.\w+Opts\{', src):
                depth, i = 1, m.end()
                while depth and i < len(src):
                    depth += {"{": 1, "}": -1}.get(src[i], 0)
                    i += 1
                body = src[m.end():i - 1]
                parts = [re.search(rf'\b{k}:\s*"(\w*)"', body) for k in ("Namespace", "Subsystem", "Name")]
                if not parts[2]:
                    continue
                full = "_".join(p.group(1) for p in parts if p and p.group(1))
                labels = []
                if m.group(2):
                    lm = re.match(r'\s*,\s*\[\]string\{([^}]*)\}', src[i:])
                    if lm:
                        labels = re.findall(r'"(\w+)"', lm.group(1))
                out[full] = (m.group(1).lower(), set(labels) | set(const))
            for m in re.finditer(r'prometheus\.NewDesc\(\s*"(\w+)"\s*,\s*"(?:[^"\\]|\\.)*"\s*,\s*(nil|\[\]string\{[^}]*\})', src):
                out[m.group(1)] = ("untyped", set(re.findall(r'"(\w+)"', m.group(2))) | set(const))
    return out


def metric_family(known, name):
    """The known metric a series name belongs to (a histogram's _bucket,
    _count, _sum; a summary's _count, _sum), or None."""
    if name in known:
        return name
    for suffix, types in (("_bucket", ("histogram",)), ("_count", ("histogram", "summary")), ("_sum", ("histogram", "summary"))):
        base = name.removesuffix(suffix)
        if base != name and base in known and known[base][0] in types:
            return base
    return None


def with_pending(known, source):
    """known plus the pending-names.txt metrics it lacks (noted)."""
    known = dict(known)
    for name, labels in pending_names("metric").items():
        if name not in known:
            note(f"metric {name} is not in {source} yet; accepted as pending (pending-names.txt)")
            known[name] = ("untyped", set(labels))
    return known


def dashboard_queries(path):
    """Every PromQL string of a dashboard (templating and panel targets),
    after checking the dashboard's shape."""
    where = os.path.relpath(path, ROOT)
    with open(path) as f:
        dash = json.load(f)
    if not dash.get("uid") or not dash.get("title"):
        fail(f"{where}: a dashboard needs a uid and a title")
    queries = [v["definition"] for v in dash.get("templating", {}).get("list", []) if v.get("definition")]
    ids = set()
    panels = list(dash.get("panels", []))
    for p in panels:
        panels += p.get("panels", [])  # panels of a collapsed row
        if p.get("id") in ids:
            fail(f"{where}: panel id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        if (p.get("datasource") or {}).get("uid") != "${datasource}":
            fail(f"{where}: panel {p.get('title')!r}: datasource should be the ${{datasource}} variable")
        exprs = [t.get("expr", "") for t in p.get("targets", [])]
        if not exprs or any(not e.strip() for e in exprs):
            fail(f"{where}: panel {p.get('title')!r} has no query or an empty one")
        queries += exprs
    if not queries:
        fail(f"{where}: no queries")
    return queries


def check_dashboard_names(path, known, source):
    """Every metric name of the dashboard's queries is known (a histogram's
    or summary's series included), and every by (...) label is on them."""
    where = os.path.relpath(path, ROOT)
    metric_re = re.compile(r'\b(?:moldau|go|process)_[a-zA-Z0-9_]+\b')
    by_re = re.compile(r'\b(?:by|without)\s*\(([^)]*)\)')
    for q in dashboard_queries(path):
        labels = {"le", "instance", "job", "pod"}
        for name in metric_re.findall(q):
            family = metric_family(known, name)
            if family is None:
                fail(f"{where}: query uses {name}, which neither {source} nor pending-names.txt has:\n  {q}")
                continue
            labels |= known[family][1]
        for m in by_re.findall(q):
            for label in (l.strip() for l in m.split(",")):
                if label and label not in labels:
                    fail(f"{where}: query groups by {label!r}, a label none of its metrics has:\n  {q}")


def cmd_dashboard(files):
    known = go_metrics()
    if "moldau_raft_commit_seconds" not in known:
        fail(f"the Go source scan found no moldau_raft_commit_seconds (found {len(known)} metrics): scanner broken?")
    known = with_pending(known, "the Go source")
    for path in files:
        check_dashboard_names(path, known, "the Go source")


def parse_exposition(text, known):
    """Adds the families of a Prometheus text exposition to known:
    {name: (type, labels)}."""
    types = dict(re.findall(r'^# TYPE (\S+) (\S+)', text, re.M))
    for m in re.finditer(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? ', text, re.M):
        name, labels = m.group(1), set(re.findall(r'(\w+)="', m.group(2) or ""))
        family = name
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix) and name.removesuffix(suffix) in types:
                family = name.removesuffix(suffix)
        t, old = known.get(family, (types.get(family, "untyped"), set()))
        known[family] = (t, old | labels - {"le", "quantile"})


def cmd_cluster_smoke(binary, manifest, work, dashboard):
    """Starts the StatefulSet of manifest as local processes, one per
    replica, with the pod's environment and arguments as the manifest gives
    them; only what a pod gets from Kubernetes is replaced: the node id is
    the ordinal, each pod's DNS name in MOLDAU_PEERS is 127.0.0.1 with a port
    of its own (one host), the listeners are on 127.0.0.1 port 0 (the
    advertised address defaults to the listener), the data dir is under
    work. Then: a topic created with the broker's default replication factor
    gets a leader and a full ISR of those node ids on every partition, and
    the dashboard's metric names are checked against the brokers' scrapes."""
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    with open(manifest) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    sts = next(d for d in docs if d.get("kind") == "StatefulSet")
    n = sts["spec"]["replicas"]
    c = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "moldau")
    args = [str(a) for a in c.get("args", [])]
    # Peer ports must be known before any node starts (every node gets the
    # whole list): take free ones from the kernel and release them. Another
    # process could take one in between; the node would then fail to start
    # and the check with it, loudly.
    socks = []
    for _ in range(n):
        so = socket.socket()
        so.bind(("127.0.0.1", 0))
        socks.append(so)
    ports = [so.getsockname()[1] for so in socks]
    for so in socks:
        so.close()
    peers = ",".join(f"{i}@127.0.0.1:{ports[i]}" for i in range(n))
    where = f"cluster smoke test of {os.path.relpath(manifest, ROOT)}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("MOLDAU_")}
    front_end_vars = {var for var, _, _, _ in FRONT_ENDS}
    # Front ends the manifest leaves to the image's defaults (0.0.0.0, a
    # fixed port): here on free loopback ports too.
    for var in front_end_vars - {e["name"] for e in c.get("env", [])}:
        base[var] = "127.0.0.1:0"
    procs, logs = [], []
    deadline = time.monotonic() + 90

    def wait_for(what, cond):
        while time.monotonic() < deadline:
            v = cond()
            if v:
                return v
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.2)
        raise RuntimeError(f"{where}: {what} (logs in {work})")

    try:
        for i in range(n):
            env = dict(base)
            for item in c.get("env", []):
                name, value = item["name"], item.get("value")
                if not name.startswith("MOLDAU_"):
                    continue
                if name == "MOLDAU_NODE_ID":
                    value = str(i)  # the pod-index label
                elif name == "MOLDAU_PEERS":
                    value = peers
                elif name == "MOLDAU_PEER_ADDR":
                    value = f"{value.rsplit(':', 1)[0]}:{ports[i]}"
                elif name in ("MOLDAU_ADDR", "MOLDAU_ADMIN_ADDR") or (name in front_end_vars and value):
                    value = "127.0.0.1:0"  # one host: free loopback ports
                elif name == "MOLDAU_ADVERTISE_ADDR":
                    continue
                elif name == "MOLDAU_DATA_DIR":
                    value = os.path.join(work, f"node{i}")
                elif name == "MOLDAU_LOG_FORMAT":
                    value = "json"
                if value is None:
                    raise RuntimeError(f"{where}: env {name} has no plain value to run with")
                env[name] = value
            out = open(os.path.join(work, f"node{i}.stdout"), "w+")
            err = open(os.path.join(work, f"node{i}.stderr"), "w+")
            logs.append((out, err))
            procs.append(subprocess.Popen([binary] + args, env=env, stdout=out, stderr=err))

        def addrs(i):
            out, err = (open(f.name).read() for f in logs[i])
            kafka = re.search(r'^listening on (\S+)', out, re.M)
            admin = re.search(r'"msg":"admin endpoint","addr":"([^"]+)"', err)
            return kafka and admin and (kafka.group(1), admin.group(1))

        nodes = [wait_for(f"node {i} did not start", lambda i=i: addrs(i)) for i in range(n)]

        def ready(admin):
            try:
                return urllib.request.urlopen(f"http://{admin}/readyz", timeout=2).status == 200
            except OSError:
                return False

        for i, (_, admin) in enumerate(nodes):
            wait_for(f"node {i} /readyz", lambda admin=admin: ready(admin))
        bootstrap = ",".join(k for k, _ in nodes)
        topic = "deploy-check"

        def cli(verb, *flags_and_args):  # moldau topic VERB [flags] [ARGS]
            r = subprocess.run([binary, "topic", verb, "--bootstrap", bootstrap, *flags_and_args],
                               capture_output=True, text=True, timeout=30)
            cli.last = r.stdout + r.stderr
            return r.returncode, cli.last
        cli.last = ""

        try:
            wait_for("topic create failed", lambda: cli("create", "--partitions", str(n), topic)[0] == 0)
        except RuntimeError as e:
            raise RuntimeError(f"{e}:\n{cli.last}")
        ids = set(range(n))

        def settled():
            rc, text = cli("describe", topic)
            rows = re.findall(rf'^{topic}\s+(\d+)\s+(-?\d+)\s+\[([\d ]*)\]\s+\[([\d ]*)\]', text, re.M)
            ok = rc == 0 and len(rows) == n and all(
                int(leader) in ids and set(map(int, r.split())) == ids and set(map(int, isr.split())) == ids
                for _, leader, r, isr in rows)
            settled.last = text
            return ok
        settled.last = ""
        try:
            wait_for("partitions did not all get a leader and a full ISR", settled)
        except RuntimeError as e:
            raise RuntimeError(f"{e}; last describe:\n{settled.last}")

        # Every node's console lists the n brokers; every REST proxy answers
        # /v3/clusters (each is a Kafka client of its own node).
        for i in range(n):
            err_log = open(logs[i][1].name).read()
            for var, pname, _, line in FRONT_ENDS[1:]:
                m = re.search(rf'"msg":"{line}","addr":"([^"]+)"', err_log)
                if not m:
                    raise RuntimeError(f"{where}: node {i} does not serve its {pname} (no {line!r} log line)")
                url = f"http://{m.group(1)}" + ("/api/overview" if pname == "console" else "/v3/clusters")

                def answers(url=url):
                    try:
                        body = json.load(urllib.request.urlopen(url, timeout=5))
                    except (OSError, ValueError):
                        return False
                    return len(body.get("brokers", [])) == n if pname == "console" else len(body.get("data", [])) == 1
                wait_for(f"node {i}'s {pname} at {url} did not answer for the {n}-node cluster", answers)

        known = {}
        for _, admin in nodes:
            parse_exposition(urllib.request.urlopen(f"http://{admin}/metrics", timeout=5).read().decode(), known)
        check_dashboard_names(dashboard, with_pending(known, "the cluster's /metrics"), "the cluster's /metrics")
        print(f"deploy-check: {n} nodes (ids 0..{n - 1}) formed a cluster; topic {topic}: {n} partitions, "
              f"replicas and ISR {sorted(ids)}; {len(known)} metric families scraped; every console and http "
              f"proxy answered", file=sys.stderr)
    except RuntimeError as e:
        fail(str(e))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i, p in enumerate(procs):
            try:
                if p.wait(timeout=60) != 0:
                    fail(f"{where}: node {i} exited with {p.returncode} on SIGTERM (logs in {work})")
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                fail(f"{where}: node {i} did not stop within 60 s of SIGTERM")
        for out, err in logs:
            out.close()
            err.close()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "schemas" and len(args) == 2:
        cmd_schemas(*args)
    elif cmd == "compose" and len(args) in (1, 3):
        cmd_compose(*args)
    elif cmd == "k8s" and args:
        cmd_k8s(args)
    elif cmd == "dashboard" and args:
        cmd_dashboard(args)
    elif cmd == "cluster-smoke" and len(args) == 4:
        cmd_cluster_smoke(*args)
    else:
        sys.exit(__doc__)
    for n in sorted(notes):
        print("deploy-check: note:", n, file=sys.stderr)
    for e in errors:
        print("deploy-check:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
