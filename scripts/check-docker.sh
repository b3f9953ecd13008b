#!/usr/bin/env bash
# Checks the container deployment without a Docker engine (CI has none); ctest runs it as docker_config.
#
#   scripts/check-docker.sh [BINARY]
#
# (a) docker/docker-compose.yml: `docker-compose config` (Debian's 1.29) accepts it with docker/.env.example
#     and with no .env at all (no warnings: every variable has a default); then, on the resolved file:
#     published ports on 127.0.0.1 only; Switchyard services healthchecked on /readyz, their config
#     mounted read-only as a directory (hot reload), stop_grace_period above the config's
#     server.drain_timeout, every ${VAR} their config names passed in; no service outside a profile
#     depending on one inside a profile (compose v2 refuses that); every variable the compose file reads
#     documented in docker/.env.example; nginx's upstreams are compose services on the image's port.
# (b) docker/Dockerfile lint: base images pinned to a tag (not latest); a non-root USER, HEALTHCHECK,
#     EXPOSE (equal to the compose services' container port and SWITCHYARD_LISTEN) and exec-form
#     ENTRYPOINT in the final stage; every apt-get install with -y and --no-install-recommends, after
#     apt-get update and followed by removing /var/lib/apt/lists in the same RUN; no ADD (URLs above all);
#     every COPY source exists in the repository and is not excluded by .dockerignore; .dockerignore keeps
#     .git, build trees, node_modules and .env out; the build stage's packages are in
#     scripts/install-deps.sh.
# (c) with BINARY (optional): the runtime stage's package list equals what `ldd BINARY` needs (each library
#     mapped with `dpkg -S`; libc6, libgcc-s1 and libstdc++6 come with debian:bookworm-slim), and
#     `BINARY --check-config` accepts docker/config/*.yaml with the environment compose gives each service.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${1:-}
if [[ -n "$binary" && ! -x "$binary" ]]; then
  echo "check-docker: $binary is not an executable" >&2
  exit 2
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "check-docker: docker-compose is missing (scripts/install-deps.sh installs Debian's)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
compose=(docker-compose -f docker/docker-compose.yml)
# A clean environment: no variable of the caller's shell (an OPENAI_API_KEY, say) may hide a missing default.
clean_env=(env -i "PATH=$PATH" "HOME=${HOME:-/tmp}")

# (a) compose accepts the file, with the example .env and with none.
if ! "${clean_env[@]}" "${compose[@]}" --env-file docker/.env.example config -q; then
  echo "check-docker: docker-compose config rejects docker/docker-compose.yml with docker/.env.example" >&2
  fail=1
fi
: >"$work/empty.env"
if ! "${clean_env[@]}" "${compose[@]}" --env-file "$work/empty.env" config >"$work/compose.yml" 2>"$work/compose.err"; then
  cat "$work/compose.err" >&2
  echo "check-docker: docker-compose config rejects docker/docker-compose.yml without a .env" >&2
  fail=1
elif [[ -s "$work/compose.err" ]]; then
  cat "$work/compose.err" >&2
  echo "check-docker: docker-compose warns without a .env (give every variable a default)" >&2
  fail=1
fi

# (a) on the resolved file, (b), and the package half of (c). docker-compose brings python3 and PyYAML.
ldd_packages=""
if [[ -n "$binary" ]]; then
  while read -r lib; do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)
    if [[ -z "$pkg" ]]; then
      echo "check-docker: no Debian package owns $lib (needed by $binary)" >&2
      fail=1
      continue
    fi
    ldd_packages+="${pkg%%:*} "
  done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
fi

if ! python3 - "$work/compose.yml" "$ldd_packages" "$binary" >"$work/envs" <<'PY'
import fnmatch, glob, json, os, re, shlex, sys
import yaml

compose_file, ldd_packages, binary = sys.argv[1], sys.argv[2].split(), sys.argv[3]
errors = []
def err(where, msg): errors.append(f"{where}: {msg}")

# ---------------------------------------------------------------- Dockerfile
DOCKERFILE = "docker/Dockerfile"
instrs = []  # (line, INSTR, args)
with open(DOCKERFILE) as f:
    lines = f.read().split("\n")
i = 0
while i < len(lines):
    start, text = i + 1, lines[i]
    if not text.strip() or text.lstrip().startswith("#"):
        i += 1
        continue
    while text.rstrip().endswith("\\") and i + 1 < len(lines):
        i += 1
        nxt = lines[i]
        if nxt.lstrip().startswith("#"):
            continue  # comment lines inside a continuation are dropped by Docker too
        text = text.rstrip()[:-1] + " " + nxt.strip()
    i += 1
    word, _, rest = text.strip().partition(" ")
    instrs.append((start, word.upper(), rest.strip()))

stages = []  # {"name", "image", "instrs"}
for ln, ins, args in instrs:
    if ins == "FROM":
        parts = [p for p in args.split() if not p.startswith("--platform")]
        name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
        stages.append({"line": ln, "image": parts[0], "name": name, "instrs": []})
    elif stages:
        stages[-1]["instrs"].append((ln, ins, args))
    elif ins != "ARG":
        err(f"{DOCKERFILE}:{ln}", f"{ins} before the first FROM")
if not stages:
    err(DOCKERFILE, "no FROM")
    stages = [{"line": 0, "image": "", "name": None, "instrs": []}]
stage_names = set()
for s in stages:
    img, where = s["image"], f"{DOCKERFILE}:{s['line']}"
    if img in stage_names:
        pass
    elif "$" in img:
        err(where, f"base image {img} comes from an ARG: pin it in the file")
    elif "@sha256:" not in img:
        last = img.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if tag is None:
            err(where, f"base image {img} has no tag (pin one, e.g. debian:bookworm-slim)")
        elif tag == "latest":
            err(where, f"base image {img}: pin a tag other than latest")
    if s["name"]:
        stage_names.add(s["name"])

def segments(cmd):
    """The simple commands of a RUN (split on && ; ||), as word lists."""
    out = []
    for part in re.split(r"&&|;|\|\|", cmd):
        try:
            out.append(shlex.split(part))
        except ValueError:
            out.append(part.split())
    return out

def apt_verb(words):
    """'install', 'update', ... for an apt-get command, else None."""
    if "apt-get" not in words:
        return None
    rest = [w for w in words[words.index("apt-get") + 1:] if not w.startswith("-")]
    return rest[0] if rest else None

def packages_of(cmd):
    """Package names the apt-get installs of this RUN install."""
    out = []
    for words in segments(cmd):
        if apt_verb(words) == "install":
            out += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return out

for s in stages:
    for ln, ins, args in s["instrs"]:
        where = f"{DOCKERFILE}:{ln}"
        if ins == "RUN":
            segs = segments(args)
            if any(w and w[0] == "apt" for w in segs):
                err(where, "use apt-get, not apt (apt's CLI is not stable for scripts)")
            verbs = [apt_verb(w) for w in segs]
            for k, words in enumerate(segs):
                if verbs[k] != "install":
                    continue
                flags = [w for w in words if w.startswith("-")]
                if "--no-install-recommends" not in flags:
                    err(where, "apt-get install without --no-install-recommends")
                if not any(f in ("--yes", "--assume-yes") or (not f.startswith("--") and "y" in f) for f in flags):
                    err(where, "apt-get install without -y")
                if "update" not in verbs[:k]:
                    err(where, "apt-get install without apt-get update before it in the same RUN "
                               "(a cached update layer would hold stale lists)")
                if not any(w[:1] == ["rm"] and any(re.fullmatch(r"/var/lib/apt/lists(/\*?)?", x) for x in w)
                           for w in segs[k + 1:]):
                    err(where, "apt lists not removed after apt-get install in the same RUN (rm -rf /var/lib/apt/lists/*)")
        elif ins == "ADD":
            srcs = [a for a in args.split() if not a.startswith("--")][:-1]
            for src in srcs:
                if re.match(r"^(https?|ftp)://|^git@", src):
                    err(where, f"ADD of a URL ({src}): fetch it in a RUN with a pinned checksum, or COPY it")
                elif not re.search(r"\.(tar|tar\.gz|tgz|tar\.xz|tar\.bz2)$", src):
                    err(where, f"ADD {src}: use COPY (ADD only to unpack a local archive)")
        elif ins == "COPY":
            words = args.split()
            flags = [w for w in words if w.startswith("--")]
            srcs = [w for w in words if not w.startswith("--")][:-1]
            src_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            if src_stage is not None:
                if src_stage not in stage_names and ":" not in src_stage:
                    err(where, f"COPY --from={src_stage}: no earlier stage of that name")
                continue
            if args.startswith("["):
                srcs = json.loads(args)[:-1]
            for src in srcs:
                if not glob.glob(src.rstrip("/")):
                    err(where, f"COPY {src}: not in the repository (the build context is the repository root)")

final = stages[-1]
fin = final["instrs"]
users = [a for _, ins, a in fin if ins == "USER"]
if not users:
    err(DOCKERFILE, "the final stage has no USER: it would run as root")
elif users[-1].split(":")[0] in ("root", "0"):
    err(DOCKERFILE, f"the final stage runs as {users[-1]}: use a non-root USER")
hc = [a for _, ins, a in fin if ins == "HEALTHCHECK"]
if not hc or hc[-1].strip().upper() == "NONE":
    err(DOCKERFILE, "the final stage has no HEALTHCHECK")
entry = [a for _, ins, a in fin if ins == "ENTRYPOINT"]
if entry and not entry[-1].startswith("["):
    err(DOCKERFILE, "ENTRYPOINT in shell form: SIGTERM would reach /bin/sh, not switchyard (no drain); use [\"switchyard\"]")
expose = set()
for _, ins, a in fin:
    if ins == "EXPOSE":
        expose |= {p.split("/")[0] for p in a.split()}
if not expose:
    err(DOCKERFILE, "the final stage has no EXPOSE")
image_env = {}
for _, ins, a in fin:
    if ins == "ENV":
        for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', a):
            image_env[m.group(1)] = m.group(2).strip('"')
listen = image_env.get("SWITCHYARD_LISTEN", "")
if listen and listen.rsplit(":", 1)[-1] not in expose:
    err(DOCKERFILE, f"SWITCHYARD_LISTEN={listen} but EXPOSE {' '.join(sorted(expose))}")

# The build stage installs a subset of what the developer machines get.
deps_text = open("scripts/install-deps.sh").read()
dev_packages = set()
for m in re.finditer(r"PACKAGES(?:\+)?=\(([^)]*)\)", deps_text):
    dev_packages |= set(re.sub(r"#.*", "", m.group(1)).split())
for s in stages[:-1]:
    for ln, ins, args in s["instrs"]:
        if ins == "RUN":
            for p in packages_of(args):
                if p not in dev_packages:
                    err(f"{DOCKERFILE}:{ln}", f"build package {p} is not in scripts/install-deps.sh")

# .dockerignore: what COPY . . would send, and what it must never send.
def ignore_rules():
    rules = []
    if os.path.exists(".dockerignore"):
        for line in open(".dockerignore"):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = line[1:] if neg else line
            pat = pat.strip("/")
            rx = ""
            j = 0
            while j < len(pat):
                if pat.startswith("**/", j):
                    rx += "(?:.*/)?"; j += 3
                elif pat.startswith("**", j):
                    rx += ".*"; j += 2
                elif pat[j] == "*":
                    rx += "[^/]*"; j += 1
                elif pat[j] == "?":
                    rx += "[^/]"; j += 1
                else:
                    rx += re.escape(pat[j]); j += 1
            rules.append((neg, re.compile(rx + "$")))
    return rules
RULES = ignore_rules()
def ignored(path):
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    out = False
    for neg, rx in RULES:
        if any(rx.match(p) for p in prefixes):
            out = not neg
    return out
if not os.path.exists(".dockerignore"):
    err(".dockerignore", "missing: COPY . . would send .git, build trees and node_modules to the daemon")
for must in [".git/HEAD", "build/switchyard", "build-asan/switchyard", "tests/integration/node_modules/x/package.json",
             "docker/.env"]:
    if not ignored(must):
        err(".dockerignore", f"{must} is not excluded")
for s in stages:
    for ln, ins, args in s["instrs"]:
        if ins == "COPY" and "--from=" not in args:
            for src in [w for w in args.split() if not w.startswith("--")][:-1]:
                if src not in (".", "./") and ignored(src):
                    err(f"{DOCKERFILE}:{ln}", f"COPY {src}: excluded by .dockerignore")

# ---------------------------------------------------------------- compose (resolved by docker-compose config)
COMPOSE = "docker/docker-compose.yml"
try:
    cfg = yaml.safe_load(open(compose_file)) or {}
except Exception as e:  # the config step already reported why
    cfg = {}
services = cfg.get("services", {}) or {}
def ours(svc):
    b = svc.get("build")
    return isinstance(b, dict) and b.get("dockerfile", "").endswith("docker/Dockerfile")
def seconds(v, default):
    if v is None:
        return default
    m = re.fullmatch(r"\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*(?:(\d+)ms)?\s*", str(v))
    if not m or not any(m.groups()):
        return default
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0) + int(m.group(3) or 0) / 1000
compose_dir = os.path.abspath("docker")
envs = []
if services and not any(ours(s) for s in services.values()):
    err(COMPOSE, "no service builds docker/Dockerfile")
for name, svc in services.items():
    where = f"{COMPOSE}: services.{name}"
    # Ports: 127.0.0.1 only; the Switchyard image's container port is what it EXPOSEs.
    for p in svc.get("ports", []) or []:
        spec = p if isinstance(p, str) else f"{p.get('host_ip', '')}:{p.get('published', '')}:{p.get('target', '')}"
        fields = spec.split("/")[0].split(":")
        if len(fields) != 3 or fields[0] != "127.0.0.1":
            err(where, f"port {spec} is not published on 127.0.0.1 only")
        if ours(svc) and fields[-1] not in expose:
            err(where, f"port {spec}: container port {fields[-1]} is not the image's EXPOSE {' '.join(sorted(expose))}")
    # Profiles and depends_on: a service outside profiles cannot depend on one inside.
    deps = svc.get("depends_on") or {}
    for dep in (deps if isinstance(deps, (list, dict)) else []):
        target = services.get(dep)
        if target is None:
            err(where, f"depends_on {dep}: no such service")
        elif target.get("profiles") and not set(target["profiles"]) & set(svc.get("profiles") or []):
            err(where, f"depends_on {dep}, which is only in profiles {target['profiles']}: "
                       "a plain `docker compose up` fails (\"depends on undefined service\")")
    if not ours(svc):
        continue
    test = " ".join((svc.get("healthcheck") or {}).get("test") or [])
    if "/readyz" not in test:
        err(where, "no healthcheck on /readyz")
    cmd = svc.get("command") or []
    cmd = shlex.split(cmd) if isinstance(cmd, str) else cmd
    if "--config" not in cmd or cmd.index("--config") + 1 >= len(cmd):
        continue  # the image's own demo config
    target = cmd[cmd.index("--config") + 1]
    host_file = None
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            src, dst, mode = v.get("source", ""), v.get("target", ""), "ro" if v.get("read_only") else "rw"
        else:
            bits = v.split(":")
            src, dst, mode = bits[0], bits[1] if len(bits) > 1 else "", bits[2] if len(bits) > 2 else "rw"
        if dst == target:
            err(where, f"{target} is a file bind mount: editors replace files by rename, so the container "
                       "would keep the old inode and never reload; mount its directory")
        elif target.startswith(dst.rstrip("/") + "/"):
            host_file = os.path.join(src, os.path.relpath(target, dst))
            if not os.path.isdir(src):
                err(where, f"config mount {src} is not a directory")
            if "ro" not in mode.split(","):
                err(where, f"config mount {src}:{dst} is not read-only")
    if host_file is None:
        if not target.startswith("/etc/switchyard/"):
            err(where, f"--config {target} is neither mounted nor in the image")
        continue
    rel = os.path.relpath(host_file)
    if not os.path.isfile(host_file):
        err(where, f"--config {target}: {rel} does not exist")
        continue
    text = open(host_file).read()
    try:
        conf = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        err(rel, f"not YAML: {e}")
        continue
    drain = seconds(((conf.get("server") or {}).get("drain_timeout")), 30)
    grace = seconds(svc.get("stop_grace_period"), 10)
    if grace <= drain:
        err(where, f"stop_grace_period {grace:g}s is not above {rel}'s server.drain_timeout {drain:g}s: "
                   "SIGKILL would cut the drain")
    env = dict(image_env)
    env.update({k: ("" if v is None else str(v)) for k, v in (svc.get("environment") or {}).items()})
    # Every ${VAR} the config names, in commented-out YAML too (the documented alternatives), not in prose.
    yaml_lines = [l for l in text.split("\n")
                  if not l.lstrip().startswith("#") or re.match(r"\s*#\s*(-\s|[\w-]+:\s)", l)]
    for var, has_default in re.findall(r"\$\{(\w+)(:-)?", "\n".join(yaml_lines)):
        if not has_default and var not in env:
            err(where, f"{rel} reads ${{{var}}}, which the service's environment does not set")
    envs.append({"service": name, "config": rel, "env": env})

# Every variable the compose file reads is documented in .env.example.
raw = open(COMPOSE).read()
example = open("docker/.env.example").read()
for var in sorted(set(re.findall(r"(?<!\$)\$\{(\w+)", raw))):
    if not re.search(rf"^#?\s*{var}=", example, re.M):
        err("docker/.env.example", f"{var} (read by {COMPOSE}) is not documented")

# nginx: upstream servers are compose services on the image's port; it listens on the lb's container port.
for conf_path in glob.glob("docker/nginx/*.conf"):
    ntext = open(conf_path).read()
    for host, port in re.findall(r"^\s*server\s+([\w.-]+):(\d+)", ntext, re.M):
        if host not in services:
            err(conf_path, f"upstream server {host} is not a compose service")
        elif port not in expose:
            err(conf_path, f"upstream server {host}:{port}: the image EXPOSEs {' '.join(sorted(expose))}")
    listens = set(re.findall(r"^\s*listen\s+(?:[\d.]+:)?(\d+)", ntext, re.M))
    lb_ports = set()
    for name, svc in services.items():
        if str(svc.get("image", "")).startswith("nginx"):
            for p in svc.get("ports") or []:
                lb_ports.add(str(p).split("/")[0].split(":")[-1])
    if listens and lb_ports and listens != lb_ports:
        err(conf_path, f"nginx listens on {sorted(listens)}, the lb service publishes container ports {sorted(lb_ports)}")

# ---------------------------------------------------------------- (c) runtime packages vs ldd
if binary:
    BASE = {"libc6", "libgcc-s1", "libstdc++6"}   # in debian:bookworm-slim already
    NOT_LIBS = {"ca-certificates"}               # not linked, needed at run time (TLS trust store)
    runtime = set()
    for _, ins, args in fin:
        if ins == "RUN":
            runtime |= set(packages_of(args))
    needed = set(ldd_packages)
    for p in sorted(needed - runtime - BASE):
        err(DOCKERFILE, f"{binary} links a library from {p}, which the runtime stage does not install")
    for p in sorted(runtime - needed - NOT_LIBS):
        err(DOCKERFILE, f"the runtime stage installs {p}, which {binary} does not link")
    for p in sorted(NOT_LIBS - runtime):
        err(DOCKERFILE, f"the runtime stage does not install {p}")

json.dump(envs, sys.stdout)
for e in dict.fromkeys(errors):
    print(f"check-docker: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
then
  fail=1
fi

# (c) the binary accepts each service's config with the environment compose gives it. The image's
# /etc/switchyard is the repository's config/ (SWITCHYARD_EXAMPLES points the demo router file there).
if [[ -n "$binary" && -s "$work/envs" ]]; then
  while IFS=$'\t' read -r service config envline; do
    mapfile -d '' -t vars < <(python3 -c 'import json,sys; sys.stdout.write("\0".join(json.loads(sys.argv[1])))' "$envline")
    if ! out=$(env -i "PATH=$PATH" "${vars[@]}" "SWITCHYARD_EXAMPLES=$PWD/config" "$binary" --check-config "$config" 2>&1); then
      echo "$out" >&2
      echo "check-docker: $binary --check-config $config fails with the environment of service $service" >&2
      fail=1
    fi
  done < <(python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    print(e["service"], e["config"], json.dumps([f"{k}={v}" for k, v in e["env"].items()]), sep="\t")' "$work/envs")
fi

if (( fail )); then
  exit 1
fi
echo "check-docker: docker/docker-compose.yml, docker/Dockerfile${binary:+ and $binary} ok"
